import type { HTMLAttributes, ReactNode } from 'react';

export interface CardProps extends Omit<HTMLAttributes<HTMLElement>, 'title'> {
  title?: ReactNode;
  /** Heading level of the title (default 2). */
  level?: 2 | 3 | 4;
  actions?: ReactNode;
  footer?: ReactNode;
  as?: 'section' | 'article' | 'div' | 'li';
}

export function Card({ title, level = 2, actions, footer, as = 'section', className, children, ...rest }: CardProps) {
  const Tag = as;
  const H = `h${level}` as 'h2';
  return (
    <Tag className={`card ${className ?? ''}`} {...rest}>
      {(title || actions) && (
        <div className="card-header">
          {title && <H className="card-title">{title}</H>}
          {actions && <div className="card-actions">{actions}</div>}
        </div>
      )}
      <div className="card-body">{children}</div>
      {footer && <div className="card-footer">{footer}</div>}
    </Tag>
  );
}
