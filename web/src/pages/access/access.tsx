import { get, post, put, seg } from '../../api/client';
import type { AccessStatus, Catalog, CatalogModel } from '../../api/types';
import { Badge, type Tone } from '../../components';
import { useT } from '../../i18n';
import { accessStrings } from './strings';

// Model access: the status badge and the request flow the catalog, model and access pages share.

const TONE: Record<AccessStatus, Tone> = {
  AVAILABLE: 'info',
  IN_PROGRESS: 'warning',
  GRANTED: 'success',
  DENIED: 'error',
  NOT_AVAILABLE: 'neutral',
};

export function AccessBadge({ status }: { status: AccessStatus }) {
  const t = useT(accessStrings);
  return (
    <Badge tone={TONE[status]}>
      <span aria-hidden="true">{status === 'GRANTED' ? '✓' : status === 'DENIED' ? '✕' : status === 'IN_PROGRESS' ? '◷' : '○'}</span>
      {t(`status${status}`)}
    </Badge>
  );
}

export function fetchCatalog(signal?: AbortSignal): Promise<Catalog> {
  return get<Catalog>('/basalt/catalog', { signal });
}

/** The Anthropic use-case form, stored base64-encoded as Bedrock's PutUseCaseForModelAccess. */
export interface UseCaseForm {
  companyName: string;
  companyWebsite: string;
  intendedUsers: '0' | '1' | '2' | '';
  industryOption: string;
  otherIndustryOption: string;
  useCases: string;
}

export const EMPTY_USE_CASE: UseCaseForm = {
  companyName: '',
  companyWebsite: '',
  intendedUsers: '',
  industryOption: '',
  otherIndustryOption: '',
  useCases: '',
};

export function encodeForm(form: UseCaseForm): string {
  const bytes = new TextEncoder().encode(JSON.stringify(form));
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

export function formBytes(form: UseCaseForm): number {
  return new TextEncoder().encode(JSON.stringify(form)).length;
}

export function decodeForm(b64: string): UseCaseForm | null {
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const j = JSON.parse(new TextDecoder().decode(bytes)) as Partial<UseCaseForm>;
    if (typeof j !== 'object' || j === null) return null;
    return { ...EMPTY_USE_CASE, ...j } as UseCaseForm;
  } catch {
    return null;
  }
}

/** The account's submitted form, or null when none was submitted (404). */
export async function getUseCase(): Promise<UseCaseForm | null> {
  try {
    const r = await get<{ formData: string }>('/use-case-for-model-access');
    return decodeForm(r.formData) ?? EMPTY_USE_CASE;
  } catch (e) {
    if ((e as { status?: number }).status === 404) return null;
    throw e;
  }
}

export async function putUseCase(form: UseCaseForm): Promise<void> {
  await post('/use-case-for-model-access', { formData: encodeForm(form) });
}

/** Requests access to one model as Bedrock does: the model's offer, then the agreement. */
export async function requestModelAccess(modelId: string): Promise<void> {
  const offers = await get<{ offers: { offerToken: string }[] }>(
    `/list-foundation-model-agreement-offers/${seg(modelId)}?offerType=PUBLIC`,
  );
  const token = offers.offers?.[0]?.offerToken;
  if (!token) throw new Error(`No agreement offer for ${modelId}.`);
  await post('/create-foundation-model-agreement', { modelId, offerToken: token });
}

export interface QueueEntry {
  AccountId: string;
  AccountName: string;
  ModelId: string;
  State: string;
}

export async function fetchQueue(signal?: AbortSignal): Promise<QueueEntry[]> {
  const r = await get<{ ModelAccessRequests: QueueEntry[] }>('/basalt/admin/model-access-requests', { signal });
  return r.ModelAccessRequests ?? [];
}

export async function decide(entry: QueueEntry, state: 'GRANTED' | 'DENIED'): Promise<void> {
  await put('/basalt/admin/model-access', { accountId: entry.AccountId, modelId: entry.ModelId, state });
}

export function requestable(m: CatalogModel): boolean {
  return m.served && m.access === 'AVAILABLE';
}
