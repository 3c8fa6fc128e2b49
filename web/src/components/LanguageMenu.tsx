import { useLang, useT, type Lang } from '../i18n';
import { common } from '../i18n/strings';
import { Icon } from './Icon';
import { MenuButton } from './Menu';

/** The language menu of the top bar (and the sign-in page). */
export function LanguageMenu({ className }: { className?: string }) {
  const t = useT(common);
  const { lang, setLang } = useLang();
  const name = (l: Lang) => (l === 'ko' ? t('langKo') : t('langEn'));
  return (
    <MenuButton
      className={className}
      ariaLabel={t('languageMenu', { lang: name(lang) })}
      label={
        <>
          <Icon name="globe" /> <span lang={lang}>{name(lang)}</span>
        </>
      }
      items={(['en', 'ko'] as Lang[]).map((l) => ({
        key: l,
        label: name(l),
        lang: l,
        checked: l === lang,
        onSelect: () => setLang(l),
      }))}
    />
  );
}
