import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

export type Lang = 'en' | 'ko';
export const LANGS: readonly Lang[] = ['en', 'ko'];
const STORAGE_KEY = 'basalt.lang';

/** A per-area string table. Declare `ko` as `Record<keyof typeof en, string>` so that
 *  TypeScript forces it to have exactly en's keys. */
export interface Strings<E extends Record<string, string>> {
  en: E;
  ko: Record<keyof E, string>;
}

export type Vars = Record<string, string | number>;
export type TFunction<E> = (key: keyof E & string, vars?: Vars) => string;

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'ko') return saved;
  } catch {
    /* storage unavailable */
  }
  const prefs = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const p of prefs) {
    const base = (p || '').toLowerCase().split('-')[0];
    if (base === 'ko') return 'ko';
    if (base === 'en') return 'en';
  }
  return 'en';
}

interface LangContextValue {
  lang: Lang;
  /** BCP 47 locale for Intl formatting. */
  locale: string;
  setLang: (lang: Lang) => void;
}

const LangContext = createContext<LangContextValue | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      /* storage unavailable */
    }
  }, []);
  const value = useMemo(
    () => ({ lang, locale: lang === 'ko' ? 'ko-KR' : 'en-US', setLang }),
    [lang, setLang],
  );
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>;
}

export function useLang(): LangContextValue {
  const v = useContext(LangContext);
  if (!v) throw new Error('useLang outside I18nProvider');
  return v;
}

/** Replaces `{name}` placeholders with values from `vars`. */
export function format(template: string, vars?: Vars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in vars ? String(vars[name]) : m,
  );
}

/** `const t = useT(strings); t('title', { count: 3 })` */
export function useT<E extends Record<string, string>>(strings: Strings<E>): TFunction<E> {
  const { lang } = useLang();
  return useCallback(
    (key: keyof E & string, vars?: Vars) => {
      const table = (lang === 'ko' ? strings.ko : strings.en) as Record<string, string>;
      return format(table[key] ?? (strings.en as Record<string, string>)[key] ?? key, vars);
    },
    [lang, strings],
  );
}

/** Locale-aware number formatting helpers. */
export function useFormat() {
  const { locale } = useLang();
  return useMemo(
    () => ({
      number: (n: number, opts?: Intl.NumberFormatOptions) =>
        new Intl.NumberFormat(locale, opts).format(n),
      usd: (n: number) =>
        new Intl.NumberFormat(locale, {
          style: 'currency',
          currency: 'USD',
          // "$", not "US$", in every language, as the catalog and usage pages show it.
          currencyDisplay: 'narrowSymbol',
          minimumFractionDigits: 2,
          maximumFractionDigits: 6,
        }).format(n),
      dateTime: (d: Date | string | number) =>
        new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(
          new Date(d),
        ),
    }),
    [locale],
  );
}
