import type { ReactNode } from 'react';

export function EmptyState({
  title,
  children,
  action,
  level = 2,
}: {
  title: ReactNode;
  children?: ReactNode;
  action?: ReactNode;
  level?: 2 | 3;
}) {
  const H = `h${level}` as 'h2';
  return (
    <div className="empty-state">
      <H className="empty-title">{title}</H>
      {children && <div className="empty-body">{children}</div>}
      {action && <div className="empty-action">{action}</div>}
    </div>
  );
}
