import type { CatalogModel } from '../../api/types';
import type { TFunction } from '../../i18n';
import { catalogStrings } from './strings';

type T = TFunction<(typeof catalogStrings)['en']>;

/** USD with as many decimals as the price needs (prices per 1,000 tokens are tiny). */
export function usd(n: number, locale: string): string {
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency: 'USD',
    currencyDisplay: 'narrowSymbol',
    minimumFractionDigits: 2,
    maximumFractionDigits: 6,
  }).format(n);
}

export function priceText(m: CatalogModel, t: T, locale: string): string {
  const p = m.price;
  if (!p) return t('none');
  if (p.perImage != null) return t('pricePerImage', { price: usd(p.perImage, locale) });
  if (p.inputPer1kTokens == null && p.outputPer1kTokens == null) return t('none');
  if (!p.inputPer1kTokens && !p.outputPer1kTokens) return t('priceFree');
  return t('pricePer1k', {
    input: usd(p.inputPer1kTokens ?? 0, locale),
    output: usd(p.outputPer1kTokens ?? 0, locale),
  });
}

export function contextText(m: CatalogModel, t: T, locale: string): string {
  return m.contextLength ? t('tokens', { count: new Intl.NumberFormat(locale).format(m.contextLength) }) : t('none');
}

const MODALITY: Record<string, { en: string; ko: string }> = {
  TEXT: { en: 'Text', ko: '텍스트' },
  IMAGE: { en: 'Image', ko: '이미지' },
  EMBEDDING: { en: 'Embedding', ko: '임베딩' },
  VIDEO: { en: 'Video', ko: '비디오' },
  AUDIO: { en: 'Audio', ko: '오디오' },
};

export function modalityName(m: string, lang: 'en' | 'ko'): string {
  return MODALITY[m]?.[lang] ?? m;
}

/** The playground a model opens in. */
export function playgroundKind(m: CatalogModel): 'chat' | 'image' {
  return m.outputModalities.includes('IMAGE') ? 'image' : 'chat';
}
