import { Card, CopyButton, EmptyState, PageHeader } from '../../components';
import { useT } from '../../i18n';
import { useRequiredSession } from '../../session';
import { KeysPanel } from './KeysPanel';
import { keysStrings } from './strings';
import '../usage/usage.css';
import './keys.css';

export default function KeysPage() {
  const t = useT(keysStrings);
  const session = useRequiredSession();
  const endpoint = session.endpoint || window.location.origin;
  return (
    <>
      <PageHeader title={t('title')} description={t('description')} />
      <div className="stack">
        <dl className="key-connection" aria-label={t('connection')}>
          <div>
            <dt>{t('endpoint')}</dt>
            <dd>
              <code>{endpoint}</code>
              <CopyButton text={endpoint} what={t('endpoint')} />
            </dd>
          </div>
          <div>
            <dt>{t('region')}</dt>
            <dd>
              <code>{session.region}</code>
            </dd>
          </div>
        </dl>
        {session.can.manageOwnKeys ? (
          <KeysPanel />
        ) : (
          <Card>
            <EmptyState title={t('notAllowedTitle')}>{t('notAllowedBody')}</EmptyState>
          </Card>
        )}
      </div>
    </>
  );
}
