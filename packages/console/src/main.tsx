// Entry point of the console bundle (scripts/build.mjs).
import '@mantine/core/styles.css';
import './console.css';
import { type CSSVariablesResolver, createTheme, MantineProvider } from '@mantine/core';
import { setNonce } from 'get-nonce';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';

// The hub writes a fresh nonce into this meta element for every page it serves; the CSP allows
// <style> elements that carry it, and Mantine writes its CSS variables into one.
const nonce = document.querySelector<HTMLMetaElement>('meta[name="meridian-style-nonce"]')?.content ?? '';
// Modals and menus lock the page's scroll with a <style> element of their own (react-remove-scroll): the same nonce.
setNonce(nonce);

const theme = createTheme({
  primaryColor: 'indigo',
  // Darker shades than Mantine's default on white keep text and filled buttons above 4.5:1 (WCAG 2.2 §1.4.3).
  primaryShade: 8,
  // Black or white text on every filled colour, whichever contrasts more: at this luminance both give 4.58:1.
  autoContrast: true,
  luminanceThreshold: 0.179,
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
});

// Mantine's "dimmed" grey (descriptions, captions) is 3.3:1 on white and its error red 3.6:1; these are 7:1 and 5.9:1.
const resolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': '#495057', '--mantine-color-error': '#c92a2a' },
  dark: {},
});

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <MantineProvider theme={theme} getStyleNonce={() => nonce} cssVariablesResolver={resolver} defaultColorScheme="light">
      <App />
    </MantineProvider>,
  );
}
