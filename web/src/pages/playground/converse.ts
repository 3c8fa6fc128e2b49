// The playgrounds' request logic: Converse bodies from the settings, the API's own validation
// (same limits and wording as src/api/converse.cc and chat.cc), streaming a reply, cost, and
// the "View API request" forms (JSON, AWS CLI, boto3).
import { apiFetch, ApiError, seg } from '../../api/client';
import type { CatalogModel } from '../../api/types';
import { converseEvents, type TokenUsage } from '../../lib/eventstream';

export interface InferenceSettings {
  system: string;
  temperature: number;
  topP: number;
  /** As typed, so that a bad value can be shown and refused. */
  maxTokens: string;
  stopSequences: string[];
}

export const DEFAULT_SETTINGS: InferenceSettings = {
  system: '',
  temperature: 0.7,
  topP: 0.9,
  maxTokens: '512',
  stopSequences: [],
};

// src/api/chat.h
export const MAX_STOP_SEQUENCES = 2500;
export const MAX_STOP_SEQUENCE_BYTES = 512;
export const MAX_STOP_SEQUENCES_TOTAL_BYTES = 4096;

export interface ChatMessage {
  role: 'user' | 'assistant';
  text: string;
}

export interface ConverseBody {
  messages: { role: 'user' | 'assistant'; content: { text: string }[] }[];
  system?: { text: string }[];
  inferenceConfig: { maxTokens: number; temperature: number; topP: number; stopSequences?: string[] };
}

const utf8Length = (s: string) => new TextEncoder().encode(s).length;

function constraint(field: string, value: string, what: string) {
  return `1 validation error detected: Value ${value} at '${field}' failed to satisfy constraint: ${what}`;
}

/** Errors the API would answer for these settings, per field, in the API's words. */
export function validateSettings(s: InferenceSettings): Partial<Record<'temperature' | 'topP' | 'maxTokens' | 'stopSequences' | 'system', string>> {
  const errors: Partial<Record<'temperature' | 'topP' | 'maxTokens' | 'stopSequences' | 'system', string>> = {};
  for (const key of ['temperature', 'topP'] as const) {
    const v = s[key];
    if (!Number.isFinite(v)) {
      errors[key] = `1 validation error detected: Value at 'inferenceConfig.${key}' failed to satisfy constraint: Member must be of type float`;
    } else if (v < 0 || v > 1) {
      errors[key] = constraint(
        `inferenceConfig.${key}`,
        `'${v}'`,
        v < 0 ? 'Member must have value greater than or equal to 0' : 'Member must have value less than or equal to 1',
      );
    }
  }
  const raw = s.maxTokens.trim();
  if (!/^-?\d+$/.test(raw)) {
    errors.maxTokens = `1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must be of type integer`;
  } else if (Number(raw) < 1) {
    errors.maxTokens = constraint('inferenceConfig.maxTokens', `'${Number(raw)}'`, 'Member must have value greater than or equal to 1');
  }
  if (s.stopSequences.some((x) => x === '')) {
    errors.stopSequences =
      "1 validation error detected: Value at 'inferenceConfig.stopSequences' failed to satisfy constraint: Member must have length greater than or equal to 1";
  } else if (s.stopSequences.length > MAX_STOP_SEQUENCES) {
    errors.stopSequences = `1 validation error detected: Value at 'stopSequences' failed to satisfy constraint: Member must have length less than or equal to ${MAX_STOP_SEQUENCES}`;
  } else {
    let total = 0;
    for (const x of s.stopSequences) {
      const n = utf8Length(x);
      total += n;
      if (n > MAX_STOP_SEQUENCE_BYTES || total > MAX_STOP_SEQUENCES_TOTAL_BYTES) {
        errors.stopSequences = `Stop sequences are limited to ${MAX_STOP_SEQUENCE_BYTES} bytes each and ${MAX_STOP_SEQUENCES_TOTAL_BYTES} bytes in all.`;
        break;
      }
    }
  }
  if (s.system !== '' && s.system.trim() === '') {
    errors.system = 'The text field in the SystemContentBlock object is blank. Add text to the text field, and try again.';
  }
  return errors;
}

/** Whether one more stop sequence may be added (the API's limits); else the API's message. */
export function checkNewStopSequence(existing: string[], value: string): string | null {
  const errs = validateSettings({ ...DEFAULT_SETTINGS, stopSequences: [...existing, value] });
  return errs.stopSequences ?? null;
}

/** The Converse(Stream) body for a conversation and settings. */
export function buildConverseBody(messages: ChatMessage[], s: InferenceSettings, withSystem = true): ConverseBody {
  const body: ConverseBody = {
    messages: messages.map((m) => ({ role: m.role, content: [{ text: m.text }] })),
    inferenceConfig: { maxTokens: Number(s.maxTokens.trim()), temperature: s.temperature, topP: s.topP },
  };
  if (withSystem && s.system.trim() !== '') body.system = [{ text: s.system }];
  if (s.stopSequences.length) body.inferenceConfig.stopSequences = [...s.stopSequences];
  return body;
}

export interface StreamResult {
  usage?: TokenUsage;
  latencyMs?: number;
  stopReason?: string;
}

/**
 * POSTs a ConverseStream request and calls onText with each text delta as soon as its event
 * is decoded. Resolves with usage, latency and stop reason; rejects with ApiError (HTTP
 * errors and in-stream exceptions, with the API's message) or an AbortError when stopped.
 */
export async function streamConverse(
  modelId: string,
  body: ConverseBody,
  signal: AbortSignal,
  onText: (delta: string) => void,
): Promise<StreamResult> {
  const res = await apiFetch(`/model/${seg(modelId)}/converse-stream`, {
    method: 'POST',
    body,
    signal,
    headers: { Accept: 'application/vnd.amazon.eventstream' },
  });
  if (!res.body) throw new ApiError(0, 'NetworkError', 'The response has no body.');
  const result: StreamResult = {};
  for await (const ev of converseEvents(res.body)) {
    switch (ev.type) {
      case 'contentBlockDelta':
        if (ev.text) onText(ev.text);
        break;
      case 'messageStop':
        result.stopReason = ev.stopReason;
        break;
      case 'metadata':
        result.usage = ev.usage;
        result.latencyMs = ev.metrics.latencyMs;
        break;
      case 'exception': {
        // The exception type arrives in lowerCamelCase (modelStreamErrorException).
        const type = ev.exceptionType.charAt(0).toUpperCase() + ev.exceptionType.slice(1);
        throw new ApiError(res.status, type, ev.message || type);
      }
      case 'error':
        throw new ApiError(res.status, ev.errorCode, ev.message || ev.errorCode);
      default:
        break;
    }
  }
  return result;
}

export function isAbort(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as { name?: string }).name === 'AbortError';
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The cost of a reply in USD from the catalog entry's price, or null when unpriced. */
export function replyCost(model: CatalogModel | undefined, usage: TokenUsage | undefined): number | null {
  if (!model?.price || !usage) return null;
  const inp = model.price.inputPer1kTokens;
  const out = model.price.outputPer1kTokens;
  if (inp == null && out == null) return null;
  return ((inp ?? 0) * usage.inputTokens + (out ?? 0) * usage.outputTokens) / 1000;
}

// ---------- "View API request" ----------

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** AWS CLI form (Converse: the CLI prints a whole reply). */
export function cliCommand(modelId: string, body: ConverseBody, region: string, endpoint: string): string {
  const lines = ['aws bedrock-runtime converse', `  --region ${region}`];
  if (endpoint) lines.push(`  --endpoint-url ${endpoint}`);
  lines.push(`  --model-id ${shellQuote(modelId)}`);
  lines.push(`  --messages ${shellQuote(JSON.stringify(body.messages))}`);
  if (body.system) lines.push(`  --system ${shellQuote(JSON.stringify(body.system))}`);
  lines.push(`  --inference-config ${shellQuote(JSON.stringify(body.inferenceConfig))}`);
  return lines.join(' \\\n');
}

/** A JSON value as a Python literal. */
export function pythonLiteral(v: unknown, indent = 0): string {
  const pad = '    '.repeat(indent + 1);
  const end = '    '.repeat(indent);
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return JSON.stringify(v); // a JSON string is a valid Python str
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => pad + pythonLiteral(x, indent + 1)).join(',\n')},\n${end}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return '{}';
  return `{\n${entries.map(([k, x]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(x, indent + 1)}`).join(',\n')},\n${end}}`;
}

/** boto3 form, streaming like the console does. */
export function boto3Code(modelId: string, body: ConverseBody, region: string, endpoint: string): string {
  const args = [`    modelId=${JSON.stringify(modelId)},`, `    messages=${pythonLiteral(body.messages, 1)},`];
  if (body.system) args.push(`    system=${pythonLiteral(body.system, 1)},`);
  args.push(`    inferenceConfig=${pythonLiteral(body.inferenceConfig, 1)},`);
  return [
    'import boto3',
    '',
    'client = boto3.client(',
    '    "bedrock-runtime",',
    `    region_name=${JSON.stringify(region)},`,
    ...(endpoint ? [`    endpoint_url=${JSON.stringify(endpoint)},`] : []),
    ')',
    '',
    'response = client.converse_stream(',
    ...args,
    ')',
    '',
    'for event in response["stream"]:',
    '    if "contentBlockDelta" in event:',
    '        print(event["contentBlockDelta"]["delta"]["text"], end="", flush=True)',
    '    elif "metadata" in event:',
    '        print()',
    '        print(event["metadata"]["usage"])',
  ].join('\n');
}

/** JSON form: the HTTP request line and body. */
export function jsonRequest(modelId: string, body: ConverseBody): string {
  return `POST /model/${encodeURIComponent(modelId)}/converse-stream\nContent-Type: application/json\n\n${JSON.stringify(body, null, 2)}`;
}

// ---------- models ----------

export const servedAndGranted = (m: CatalogModel) => m.served && m.access === 'GRANTED';
export const isTextModel = (m: CatalogModel) => servedAndGranted(m) && m.outputModalities.includes('TEXT');
export const isImageModel = (m: CatalogModel) => servedAndGranted(m) && m.outputModalities.includes('IMAGE');
