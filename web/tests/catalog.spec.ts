import { test, expect, shot, checkA11y } from './fixtures';

test.beforeEach(async ({ signIn }) => {
  await signIn();
});

test('catalog cards show models, prices, access and missing weights', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByRole('heading', { level: 1, name: 'Model catalog' })).toBeVisible();
  const cards = page.getByRole('list', { name: 'Models' }).getByRole('listitem');
  await expect(cards.first()).toBeVisible();
  // stories260K under its own id and six aliases, llama-2-tiny-random, one missing entry.
  await expect(cards).toHaveCount(9);

  const tiny = cards.filter({ hasText: 'test.llama-2-tiny-random-v1:0' });
  await expect(tiny).toContainText('Llama 2 tiny random');
  await expect(tiny).toContainText('256 tokens');
  await expect(tiny).toContainText('Access granted');

  const stories = cards.filter({ hasText: 'tinystories.stories-260k-v1:0' });
  await expect(stories).toContainText('$0.001 input · $0.002 output per 1,000 tokens');
  await expect(stories).toContainText('Text → Text');

  const missing = cards.filter({ hasText: 'meta.llama3-2-1b-instruct-v1:0' });
  await expect(missing).toContainText('Weights missing');
  await expect(missing.getByRole('link', { name: 'Open in playground' })).toHaveCount(0);

  await shot(page, 'catalog');
  await checkA11y(page, 'catalog');
});

test('provider filter and search narrow the cards', async ({ page }) => {
  await page.goto('/catalog');
  const cards = page.getByRole('list', { name: 'Models' }).getByRole('listitem');
  await expect(cards).toHaveCount(9);
  await page.getByLabel('Provider').selectOption('Anthropic');
  await expect(cards).toHaveCount(3);
  await expect(page).toHaveURL(/provider=Anthropic/);
  await page.getByRole('searchbox', { name: 'Search models' }).fill('haiku');
  await expect(cards).toHaveCount(1);
  await expect(page.getByText('1 model', { exact: true })).toBeVisible();
  await page.getByRole('searchbox', { name: 'Search models' }).fill('no-such-model');
  await expect(page.getByRole('heading', { name: 'No models match' })).toBeVisible();
  await page.getByRole('button', { name: 'Clear filters' }).click();
  await expect(cards).toHaveCount(9);
});

test('the Korean switch shows the catalog in Korean and is remembered', async ({ page }) => {
  await page.goto('/catalog');
  await page.getByRole('button', { name: /^Language:/ }).click();
  await page.getByRole('menuitemradio', { name: '한국어' }).click();
  await expect(page.getByRole('heading', { level: 1, name: '모델 카탈로그' })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await expect(page.getByRole('navigation', { name: '주 메뉴' }).getByRole('link', { name: '모델 액세스' })).toBeVisible();
  await expect(page.getByText('가중치 없음').first()).toBeVisible();
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: '모델 카탈로그' })).toBeVisible();
  await shot(page, 'catalog-ko');
  await checkA11y(page, 'catalog (Korean)');
  // Back to English for the other tests of this worker's browser context (a new context each test anyway).
  await page.getByRole('button', { name: /^언어:/ }).click();
  await page.getByRole('menuitemradio', { name: 'English' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Model catalog' })).toBeVisible();
});

test('the language menu works from the keyboard', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByRole('heading', { level: 1, name: 'Model catalog' })).toBeVisible();
  const button = page.getByRole('button', { name: /^Language:/ });
  await button.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('menuitemradio', { name: 'English' })).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(page.getByRole('menuitemradio', { name: '한국어' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(button).toBeFocused();
  await expect(page.getByRole('menu')).toHaveCount(0);
});

test('the skip link moves focus to the main content', async ({ page }) => {
  await page.goto('/catalog');
  await expect(page.getByRole('heading', { level: 1, name: 'Model catalog' })).toBeVisible();
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.locator('main#main')).toBeFocused();
});
