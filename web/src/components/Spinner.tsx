import { useT } from '../i18n';
import { common } from '../i18n/strings';

export function Spinner({
  size = 'md',
  label,
  decorative = false,
}: {
  size?: 'sm' | 'md' | 'lg';
  label?: string;
  decorative?: boolean;
}) {
  const t = useT(common);
  if (decorative) return <span className={`spinner spinner-${size}`} aria-hidden="true" />;
  return (
    <span className="spinner-wrap" role="status">
      <span className={`spinner spinner-${size}`} aria-hidden="true" />
      <span className="spinner-label">{label ?? t('loading')}</span>
    </span>
  );
}

/** A centered loading block for a page or a panel. */
export function Loading({ label }: { label?: string }) {
  return (
    <div className="loading-block">
      <Spinner size="lg" label={label} />
    </div>
  );
}
