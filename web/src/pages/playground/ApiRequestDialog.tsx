// "View API request": the Converse request that reproduces the playground's settings, as the
// JSON body, an AWS CLI command and boto3 code, each copyable.
import { useState } from 'react';
import type { CatalogModel } from '../../api/types';
import { CopyButton, Dialog, Select, Tabs } from '../../components';
import { useT } from '../../i18n';
import { useSession } from '../../session';
import { boto3Code, cliCommand, jsonRequest, type ConverseBody } from './converse';
import { modelLabel } from './shared';
import { playgroundStrings } from './strings';

export interface RequestTarget {
  modelId: string;
  body: ConverseBody;
}

export function ApiRequestDialog({
  open,
  onClose,
  targets,
  models,
}: {
  open: boolean;
  onClose: () => void;
  targets: RequestTarget[];
  models: CatalogModel[];
}) {
  const t = useT(playgroundStrings);
  const { session } = useSession();
  const [tab, setTab] = useState('json');
  const [which, setWhich] = useState(0);
  const target = targets[Math.min(which, targets.length - 1)];
  const region = session?.region ?? 'us-east-1';
  const endpoint = session?.endpoint ?? window.location.origin;
  const code = (kind: string) => {
    if (!target) return '';
    if (kind === 'cli') return cliCommand(target.modelId, target.body, region, endpoint);
    if (kind === 'python') return boto3Code(target.modelId, target.body, region, endpoint);
    return jsonRequest(target.modelId, target.body);
  };
  const panel = (kind: string, what: string) => (
    <div className="pg-code-panel">
      <div className="pg-code-actions">
        <CopyButton text={code(kind)} what={what} />
      </div>
      <pre className="pg-code" tabIndex={0} aria-label={what}>
        <code>{code(kind)}</code>
      </pre>
    </div>
  );
  return (
    <Dialog open={open} onClose={onClose} title={t('apiRequestTitle')} size="lg">
      <p className="pg-dialog-intro">{t('apiRequestIntro')}</p>
      {!target ? (
        <p>{t('apiRequestNoModel')}</p>
      ) : (
        <>
          {targets.length > 1 && (
            <Select
              label={t('model')}
              value={String(which)}
              onChange={(e) => setWhich(Number(e.target.value))}
              options={targets.map((x, n) => {
                const m = models.find((mm) => mm.modelId === x.modelId);
                return { value: String(n), label: m ? modelLabel(m) : x.modelId };
              })}
            />
          )}
          <Tabs
            label={t('requestTabs')}
            active={tab}
            onChange={setTab}
            tabs={[
              { id: 'json', label: t('tabJson'), content: panel('json', t('tabJson')) },
              { id: 'cli', label: t('tabCli'), content: panel('cli', t('tabCli')) },
              { id: 'python', label: t('tabPython'), content: panel('python', t('tabPython')) },
            ]}
          />
        </>
      )}
    </Dialog>
  );
}
