import type { ReactNode } from 'react';
import { LanguageMenu } from '../../components';

/** The frame of the pages outside the console shell (/signin, /signup): brand, language
 *  menu, one card, a footer line. */
export function SigninFrame({ footer, children }: { footer: string; children: ReactNode }) {
  return (
    <div className="signin-page">
      <header className="signin-top">
        <span className="signin-brand">
          <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
            <rect width="32" height="32" rx="6" fill="#ff9900" />
            <path d="M7 23 L13 11 L17 17 L20 13 L25 23 Z" fill="#16202e" />
          </svg>
          Basalt
        </span>
        <LanguageMenu />
      </header>
      <main id="main" className="signin-main">
        <div className="signin-card card">{children}</div>
        <p className="signin-footer muted">{footer}</p>
      </main>
    </div>
  );
}
