import type { ReactNode } from 'react';
import { Card } from './Card';
import { PageHeader } from './PageHeader';

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

/** A whole page in place of one the user may not see. */
export function NotAllowedPage({ title, heading, children }: { title: string; heading: ReactNode; children: ReactNode }) {
  return (
    <>
      <PageHeader title={title} />
      <Card>
        <EmptyState title={heading}>{children}</EmptyState>
      </Card>
    </>
  );
}
