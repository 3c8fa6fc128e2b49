// @jsxRuntime automatic
// @jsxImportSource react
// Unit tests for the Markdown renderer: `npm run test:unit` (node:test via tsx).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderToStaticMarkup } from 'react-dom/server';
import { Markdown, splitBlocks } from '../src/lib/markdown.tsx';

const html = (text: string) => renderToStaticMarkup(<Markdown text={text} />).replace(/^<div class="md">|<\/div>$/g, '');

test('paragraphs and line breaks', () => {
  assert.equal(html('Hello world'), '<p>Hello world</p>');
  assert.equal(html('one\ntwo\n\nthree'), '<p>one<br/>two</p><p>three</p>');
  assert.equal(html(''), '');
});

test('headings', () => {
  assert.equal(html('# Title'), '<h1>Title</h1>');
  assert.equal(html('### Sub ###'), '<h3>Sub</h3>');
  assert.equal(html('#hashtag'), '<p>#hashtag</p>');
  assert.equal(html('## 제목\n본문'), '<h2>제목</h2><p>본문</p>');
});

test('emphasis, strong, strike and inline code', () => {
  assert.equal(html('a *b* _c_ **d** __e__ ~~f~~'), '<p>a <em>b</em> <em>c</em> <strong>d</strong> <strong>e</strong> <del>f</del></p>');
  assert.equal(html('**bold *and em***'), '<p><strong>bold <em>and em</em></strong></p>');
  assert.equal(html('use `x < y` and ``a ` b``'), '<p>use <code>x &lt; y</code> and <code>a ` b</code></p>');
  assert.equal(html('snake_case_name and 2 * 3 * 4'), '<p>snake_case_name and 2 * 3 * 4</p>');
  assert.equal(html('`**not bold**`'), '<p><code>**not bold**</code></p>');
  assert.equal(html('\\*literal\\*'), '<p>*literal*</p>');
  // unclosed (a stream in progress) shows as typed
  assert.equal(html('**bol'), '<p>**bol</p>');
  assert.equal(html('`cod'), '<p>`cod</p>');
});

test('fenced code blocks keep their text verbatim, blank lines included', () => {
  const src = 'Before\n\n```python\ndef f(x):\n\n    return x < 1 and "<b>"\n```\n\nAfter';
  assert.equal(
    html(src),
    '<p>Before</p><div class="md-code"><div class="md-code-lang">python</div><pre><code data-lang="python">def f(x):\n\n    return x &lt; 1 and &quot;&lt;b&gt;&quot;</code></pre></div><p>After</p>',
  );
  // an unclosed fence (still streaming) renders what has arrived
  assert.equal(html('~~~\nline 1\n\nline'), '<div class="md-code"><pre><code>line 1\n\nline</code></pre></div>');
  assert.equal(splitBlocks('~~~\nline 1\n\nline').length, 1);
});

test('lists, ordered and nested', () => {
  assert.equal(html('- a\n- b *c*'), '<ul><li>a</li><li>b <em>c</em></li></ul>');
  assert.equal(html('3. three\n4. four'), '<ol start="3"><li>three</li><li>four</li></ol>');
  assert.equal(html('1) one'), '<ol><li>one</li></ol>');
  assert.equal(html('- a\n  - a1\n  - a2\n- b'), '<ul><li><p>a</p><ul><li>a1</li><li>a2</li></ul></li><li>b</li></ul>');
  assert.equal(html('Intro:\n* x\n* y'), '<p>Intro:</p><ul><li>x</li><li>y</li></ul>');
  assert.equal(html('-not a list'), '<p>-not a list</p>');
});

test('block quotes and rules', () => {
  assert.equal(html('> quoted **text**\n> more'), '<blockquote><p>quoted <strong>text</strong><br/>more</p></blockquote>');
  assert.equal(html('a\n\n---\n\nb'), '<p>a</p><hr/><p>b</p>');
});

test('tables', () => {
  assert.equal(
    html('| Name | Qty |\n|:-----|----:|\n| `a\\|b` | 1 |\n| 사과 | 2 |'),
    '<div class="md-table"><table><thead><tr><th style="text-align:left">Name</th><th style="text-align:right">Qty</th></tr></thead>' +
      '<tbody><tr><td style="text-align:left"><code>a|b</code></td><td style="text-align:right">1</td></tr>' +
      '<tr><td style="text-align:left">사과</td><td style="text-align:right">2</td></tr></tbody></table></div>',
  );
});

test('links: http(s) only, rel=noopener, never javascript:', () => {
  assert.equal(
    html('[docs](https://example.com/a?b=1)'),
    '<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer">docs</a></p>',
  );
  assert.equal(html('[click](javascript:alert(1))'), '<p>click)</p>');
  assert.equal(html('[x](data:text/html,hi)'), '<p>x</p>');
  assert.equal(
    html('see https://example.com/x.'),
    '<p>see <a href="https://example.com/x" target="_blank" rel="noopener noreferrer">https://example.com/x</a>.</p>',
  );
  assert.ok(!html('javascript:alert(1)').includes('<a'));
});

test('never HTML: tags show literally', () => {
  const out = html('<script>alert(1)</script> and <img src=x onerror=alert(1)>');
  assert.equal(out, '<p>&lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(1)&gt;</p>');
  assert.ok(!/<script|<img/i.test(out));
  assert.equal(html('# <b>x</b>'), '<h1>&lt;b&gt;x&lt;/b&gt;</h1>');
  assert.equal(html('- <i>y</i>'), '<ul><li>&lt;i&gt;y&lt;/i&gt;</li></ul>');
});

test('growing text: earlier blocks keep identical source strings (memoized) while the last grows', () => {
  const full = '# Story\n\nOnce upon a time there was a **rabbit**.\n\n- one\n- two\n\n```js\nlet x = 1;\n```\n\nThe end.';
  let prev: string[] = [];
  for (let n = 1; n <= full.length; n++) {
    const blocks = splitBlocks(full.slice(0, n));
    // every block but the last is unchanged from the previous step (or the previous step's last one grew)
    for (let b = 0; b < Math.min(prev.length, blocks.length) - 1; b++) assert.equal(blocks[b], prev[b]);
    assert.doesNotThrow(() => renderToStaticMarkup(<Markdown text={full.slice(0, n)} />));
    prev = blocks;
  }
  assert.equal(prev.length, 5);
});

test('rendering a long reply token by token stays cheap', () => {
  const para = 'The quick brown fox jumps over the lazy dog, `code`, **bold** and *em*. ';
  const full = Array.from({ length: 40 }, (_, n) => para.repeat(4) + (n % 5 === 0 ? '\n\n- item\n- item' : '') + '\n\n').join('');
  // The renderer's work per update is splitting plus parsing the last block; emulate the
  // component's memo by rendering only the last block each step.
  const t0 = performance.now();
  let steps = 0;
  for (let n = 8; n <= full.length; n += 8) {
    const blocks = splitBlocks(full.slice(0, n));
    renderToStaticMarkup(<Markdown text={blocks[blocks.length - 1]} />);
    steps++;
  }
  const perStep = (performance.now() - t0) / steps;
  assert.ok(perStep < 2, `per token ${perStep.toFixed(3)} ms`);
});
