// Shapes of the apps API (docs/apps.md): an app, its definition (schema version 1), versions,
// documents and the run events.

export type WidgetType = 'user-input' | 'static-text' | 'document' | 'text-generation' | 'image-generation' | 'chatbot';

export const WIDGET_TYPES: readonly WidgetType[] = [
  'user-input',
  'static-text',
  'document',
  'text-generation',
  'image-generation',
  'chatbot',
];

export interface Layout {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Widget {
  id: string;
  type: WidgetType;
  title: string;
  layout: Layout;
  placeholder?: string;
  default?: string;
  content?: string;
  prompt?: string;
  model?: string;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  width?: number;
  height?: number;
  seed?: number;
  negativePrompt?: string;
}

export interface AppDefinition {
  schemaVersion: number;
  title: string;
  description: string;
  widgets: Widget[];
}

export interface App {
  appId: string;
  title: string;
  description: string;
  visibility: 'private' | 'public';
  shareToken?: string;
  shareUrl?: string;
  listed: boolean;
  version: number;
  definition: AppDefinition;
  /** Null for anyone but the owner (a user name can be an e-mail address). */
  owner: { userName: string } | null;
  isOwner: boolean;
  remixedFrom: { appId: string; title: string } | null;
  createdAt: string;
  updatedAt: string;
  /** Set by the server for apps made by Generate (the description it was generated from). */
  generatedFrom?: string;
}

export interface AppVersion {
  version: number;
  note: string;
  createdAt: string;
}

export interface DocumentInfo {
  documentId: string;
  name: string;
  mediaType: string;
  bytes: number;
  chars: number;
  preview: string;
}

export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  images?: number;
  cost: number;
}

export type WidgetRunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'stopped' | 'superseded';

/** The events of a streamed run or chat (text/event-stream, one JSON object per event). */
export type RunEvent =
  | { event: 'run'; runId: string; waves?: string[][] }
  | { event: 'widget-start'; widgetId: string }
  | { event: 'delta'; widgetId: string; text: string }
  | { event: 'image'; widgetId: string; images: string[] }
  | { event: 'widget-end'; widgetId: string; status: WidgetRunStatus; usage?: RunUsage; error?: { type: string; message: string } }
  | { event: 'done'; runId: string; status: string; usage?: RunUsage }
  | { event: 'error'; type: string; message: string };

/** Grid bounds (src/apps/definition.h). */
export const GRID_COLUMNS = 12;
export const MAX_ROWS_PER_WIDGET = 24;
export const MAX_WIDGETS = 40;
export const MAX_TITLE_BYTES = 60;
