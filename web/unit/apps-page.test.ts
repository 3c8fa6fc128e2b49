// Unit tests for the app page's grid layout, run-event parsing and helpers: `npm run test:unit`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clampLayout, fits, freeSpot, newWidget, nudge, overlaps, readingOrder } from '../src/pages/apps/layout.ts';
import { documentMediaType, SseParser, toRunEvent, widgetOfMessage } from '../src/pages/apps/api.ts';
import { runnableIds, withMissingUpstream } from '../src/pages/apps/runplan.ts';
import type { AppDefinition, Widget } from '../src/pages/apps/types.ts';

function app(widgets: Partial<Widget>[]): AppDefinition {
  return {
    schemaVersion: 1,
    title: 'T',
    description: '',
    widgets: widgets.map((w, i) => ({ id: `w${i + 1}`, type: 'user-input', title: `W${i + 1}`, layout: { x: 0, y: i * 2, w: 6, h: 2 }, ...w }) as Widget),
  };
}

test('layouts stay on the 12-column grid and off other widgets', () => {
  assert.deepEqual(clampLayout({ x: 10, y: -1, w: 6, h: 30 }), { x: 6, y: 0, w: 6, h: 24 });
  assert.deepEqual(clampLayout({ x: -3, y: 2.4, w: 0, h: 0 }), { x: 0, y: 2, w: 1, h: 1 });
  assert.ok(overlaps({ x: 0, y: 0, w: 6, h: 2 }, { x: 5, y: 1, w: 2, h: 2 }));
  assert.ok(!overlaps({ x: 0, y: 0, w: 6, h: 2 }, { x: 6, y: 0, w: 6, h: 2 }));
  const def = app([{ layout: { x: 0, y: 0, w: 6, h: 2 } }, { layout: { x: 6, y: 0, w: 6, h: 2 } }]);
  assert.ok(!fits(def, 'w1', { x: 1, y: 0, w: 6, h: 2 }));
  assert.ok(fits(def, 'w1', { x: 0, y: 1, w: 6, h: 2 }));
  assert.ok(!fits(def, 'w1', { x: 7, y: 5, w: 6, h: 2 }));
  assert.deepEqual(freeSpot(def, 6, 3), { x: 0, y: 2, w: 6, h: 3 });
  assert.deepEqual(freeSpot(app([{ layout: { x: 0, y: 0, w: 4, h: 2 } }]), 6, 2), { x: 4, y: 0, w: 6, h: 2 });
});

test('arrow keys move by a cell, Shift+arrows resize', () => {
  const l = { x: 2, y: 3, w: 4, h: 2 };
  assert.deepEqual(nudge(l, 'ArrowLeft', false), { x: 1, y: 3, w: 4, h: 2 });
  assert.deepEqual(nudge(l, 'ArrowDown', false), { x: 2, y: 4, w: 4, h: 2 });
  assert.deepEqual(nudge(l, 'ArrowRight', true), { x: 2, y: 3, w: 5, h: 2 });
  assert.deepEqual(nudge(l, 'ArrowUp', true), { x: 2, y: 3, w: 4, h: 1 });
  assert.equal(nudge(l, 'Enter', false), null);
});

test('a new widget gets a free id, a unique title and a free place', () => {
  const def = app([{ title: 'Text generation' }, { id: 'w3', title: 'x' }]);
  const w = newWidget(def, 'text-generation', 'Text generation');
  assert.equal(w.id, 'w4');
  assert.equal(w.title, 'Text generation 2');
  assert.deepEqual(w.layout, { x: 0, y: 4, w: 12, h: 4 });
  assert.equal(w.prompt, '');
  assert.equal(w.maxTokens, 512);
  const img = newWidget(def, 'image-generation', 'Image');
  assert.deepEqual([img.width, img.height, img.seed], [512, 512, 0]);
  assert.deepEqual(readingOrder([{ id: 'b', layout: { x: 6, y: 0, w: 6, h: 1 } }, { id: 'a', layout: { x: 0, y: 0, w: 6, h: 1 } }, { id: 'c', layout: { x: 0, y: -1 + 2, w: 1, h: 1 } }]).map((x) => x.id), ['a', 'b', 'c']);
});

test('server-sent events are split across chunks and parsed into run events', () => {
  const p = new SseParser();
  assert.deepEqual(p.feed('event: run\ndata: {"runId":"r1","waves":[["w3"]]}\n\nevent: del'), [
    { event: 'run', data: '{"runId":"r1","waves":[["w3"]]}' },
  ]);
  assert.deepEqual(p.feed('ta\r\ndata: {"widgetId":"w3","text":"Hi"}\r\n\r\n: keep-alive\n\n'), [
    { event: 'delta', data: '{"widgetId":"w3","text":"Hi"}' },
  ]);
  assert.deepEqual(toRunEvent('delta', '{"widgetId":"w3","text":"Hi"}'), { event: 'delta', widgetId: 'w3', text: 'Hi' });
  assert.deepEqual(toRunEvent('error', '{"message":"Too many requests","type":"ThrottlingException"}'), {
    event: 'error',
    type: 'ThrottlingException',
    message: 'Too many requests',
  });
  // Unnamed events may carry their name inside the JSON.
  assert.deepEqual(toRunEvent('message', '{"event":"done","runId":"r1","status":"succeeded"}'), {
    event: 'done',
    runId: 'r1',
    status: 'succeeded',
  });
  assert.equal(toRunEvent('delta', 'not json'), null);
});

test('documents go up with their media type; validation messages find their widget', () => {
  assert.equal(documentMediaType({ name: 'a.md', type: '' }), 'text/markdown');
  assert.equal(documentMediaType({ name: 'A.PDF', type: '' }), 'application/pdf');
  assert.equal(documentMediaType({ name: 'notes.txt', type: 'text/plain' }), 'text/plain');
  assert.equal(documentMediaType({ name: 'x.png', type: 'image/png' }), 'image/png');
  const def = app([{ title: 'Topic' }, { title: 'Topic summary' }]);
  assert.equal(widgetOfMessage("The widget 'Topic summary' refers to @Topc, which is not a widget of this app.", def), 'w2');
  assert.equal(widgetOfMessage("Value at 'definition.widgets[0].layout.w' failed", def), 'w1');
  assert.equal(widgetOfMessage('Something else', def), null);
});

test('a re-run also runs the text generations it needs that never ran', () => {
  const def = app([
    { title: 'Topic' },
    { type: 'text-generation', title: 'Outline', prompt: '@Topic' },
    { type: 'text-generation', title: 'Essay', prompt: '@Outline' },
    { type: 'chatbot', title: 'Tutor', prompt: '@Essay' },
    { type: 'image-generation', title: 'Cover', prompt: '@Essay' },
  ]);
  assert.deepEqual(runnableIds(def), ['w2', 'w3', 'w5']);
  assert.deepEqual(withMissingUpstream(def, ['w5'], () => false), ['w2', 'w3', 'w5']);
  assert.deepEqual(withMissingUpstream(def, ['w5'], (id) => id === 'w3'), ['w5']);
  assert.deepEqual(withMissingUpstream(def, ['w5'], (id) => id === 'w2'), ['w3', 'w5']);
});
