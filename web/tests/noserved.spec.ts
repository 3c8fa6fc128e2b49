import { test, expect, shot, checkA11y, signInWith, EMPTY_SERVED_CATALOG } from './fixtures';

test.use({ serverOptions: { catalog: EMPTY_SERVED_CATALOG } });

test('with no model served the catalog says so and links administrators to Models', async ({ page, server }) => {
  await signInWith(page, server.admin);
  await expect(page).toHaveURL(/\/catalog$/);
  await expect(page.getByRole('heading', { name: 'No model is served yet' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Pull a model' })).toHaveAttribute('href', '/models');
  await shot(page, 'catalog-none-served');
  await checkA11y(page, 'catalog with nothing served');
});
