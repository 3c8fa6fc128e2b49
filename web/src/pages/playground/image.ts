// The image playground's request logic: Amazon Titan Image Generator TEXT_IMAGE bodies
// (bedrock-api.md B.4), their validation, and download file names.

export const IMAGE_SIZES = ['512x512', '768x768', '1024x1024', '1152x768', '768x1152', '1280x768', '768x1280'] as const;
export const MAX_PROMPT = 512;
export const MAX_SEED = 2147483646;

export interface ImageSettings {
  text: string;
  negativeText: string;
  size: string;
  count: string;
  seed: string;
  cfgScale: string;
}

type ImageErrors = Partial<Record<keyof ImageSettings, string>>;

function constraint(field: string, value: string, what: string) {
  return `1 validation error detected: Value ${value} at '${field}' failed to satisfy constraint: ${what}`;
}

/** What Bedrock's Titan Image Generator would refuse, in the API's validation wording. */
export function validateImage(s: ImageSettings): ImageErrors {
  const e: ImageErrors = {};
  if (s.text.trim() === '') e.text = constraint('textToImageParams.text', "''", 'Member must have length greater than or equal to 1');
  else if (s.text.length > MAX_PROMPT)
    e.text = constraint('textToImageParams.text', `(${s.text.length} characters)`, `Member must have length less than or equal to ${MAX_PROMPT}`);
  if (s.negativeText.length > MAX_PROMPT)
    e.negativeText = constraint(
      'textToImageParams.negativeText',
      `(${s.negativeText.length} characters)`,
      `Member must have length less than or equal to ${MAX_PROMPT}`,
    );
  const count = Number(s.count);
  if (!/^\d+$/.test(s.count.trim()) || count < 1 || count > 5)
    e.count = constraint(
      'imageGenerationConfig.numberOfImages',
      `'${s.count}'`,
      count > 5 ? 'Member must have value less than or equal to 5' : 'Member must have value greater than or equal to 1',
    );
  const seed = Number(s.seed);
  if (!/^\d+$/.test(s.seed.trim()) || seed > MAX_SEED)
    e.seed = constraint(
      'imageGenerationConfig.seed',
      `'${s.seed}'`,
      seed > MAX_SEED ? `Member must have value less than or equal to ${MAX_SEED}` : 'Member must have value greater than or equal to 0',
    );
  const cfg = Number(s.cfgScale);
  if (s.cfgScale.trim() === '' || !Number.isFinite(cfg) || cfg < 1.1 || cfg > 10)
    e.cfgScale = constraint(
      'imageGenerationConfig.cfgScale',
      `'${s.cfgScale}'`,
      cfg > 10 ? 'Member must have value less than or equal to 10' : 'Member must have value greater than or equal to 1.1',
    );
  return e;
}

/** The Amazon Titan Image Generator InvokeModel body (bedrock-api.md B.4). */
export function titanImageBody(s: ImageSettings) {
  const [width, height] = s.size.split('x').map(Number);
  const params: { text: string; negativeText?: string } = { text: s.text };
  if (s.negativeText.trim()) params.negativeText = s.negativeText;
  return {
    taskType: 'TEXT_IMAGE',
    textToImageParams: params,
    imageGenerationConfig: {
      numberOfImages: Number(s.count),
      height,
      width,
      cfgScale: Number(s.cfgScale),
      seed: Number(s.seed),
    },
  };
}

/** A download file name from the prompt: letters (any script, Korean included) and digits. */
export function imageFileName(prompt: string, n: number): string {
  const base =
    prompt
      .normalize('NFC')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60)
      .replace(/-+$/, '') || 'image';
  return `${base}-${n}.png`;
}
