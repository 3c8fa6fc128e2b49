import { EmptyState, PageHeader } from '../../components';
import { useT } from '../../i18n';
import { common } from '../../i18n/strings';

// Placeholder: this page is owned by another engineer and replaced by their work.
export default function AccessPage() {
  const t = useT(common);
  return (
    <>
      <PageHeader title={t('navCatalog')} />
      <EmptyState title={t('navCatalog')}>{t('comingSoon')}</EmptyState>
    </>
  );
}
