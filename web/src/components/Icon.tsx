// Small inline icons (no icon font, no emoji: they render the same everywhere).
type IconName = 'globe' | 'copy' | 'check' | 'user';

const PATHS: Record<IconName, string> = {
  globe:
    'M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13Zm0 0c1.8 1.7 2.7 3.9 2.7 6.5S9.8 12.8 8 14.5M8 1.5C6.2 3.2 5.3 5.4 5.3 8s.9 4.8 2.7 6.5M1.5 8h13M2.4 4.8h11.2M2.4 11.2h11.2',
  copy: 'M5.5 5.5V2.5h8v8h-3M2.5 5.5h8v8h-8z',
  check: 'M3 8.5l3.2 3L13 4.5',
  user: 'M8 8a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm-5.5 6.5c.6-2.6 2.8-4.2 5.5-4.2s4.9 1.6 5.5 4.2',
};

export function Icon({ name, size = 16 }: { name: IconName; size?: number }) {
  return (
    <svg
      className="icon"
      width={size}
      height={size}
      viewBox="0 0 16 16"
      fill="none"
      stroke="currentColor"
      strokeWidth={1.4}
      strokeLinecap="round"
      strokeLinejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={PATHS[name]} />
    </svg>
  );
}
