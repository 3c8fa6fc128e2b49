import { useEffect, type ReactNode } from 'react';
import { Link } from '../router';

export interface Crumb {
  label: string;
  to?: string;
}

/** The page's h1, description, actions and breadcrumbs; also sets document.title. */
export function PageHeader({
  title,
  description,
  actions,
  breadcrumbs,
  docTitle,
}: {
  title: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  breadcrumbs?: Crumb[];
  /** The browser tab title (default: title when it is a string). */
  docTitle?: string;
}) {
  const tabTitle = docTitle ?? (typeof title === 'string' ? title : undefined);
  useEffect(() => {
    if (tabTitle) document.title = `${tabTitle} · Basalt`;
  }, [tabTitle]);
  return (
    <header className="page-header">
      {breadcrumbs && breadcrumbs.length > 0 && (
        <nav aria-label="Breadcrumb" className="breadcrumbs">
          <ol>
            {breadcrumbs.map((c, i) => (
              <li key={i}>
                {c.to ? <Link to={c.to}>{c.label}</Link> : <span aria-current="page">{c.label}</span>}
              </li>
            ))}
          </ol>
        </nav>
      )}
      <div className="page-header-row">
        <div className="page-header-text">
          <h1 className="page-title">{title}</h1>
          {description && <p className="page-description">{description}</p>}
        </div>
        {actions && <div className="page-actions">{actions}</div>}
      </div>
    </header>
  );
}
