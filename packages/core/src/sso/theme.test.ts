import { describe, expect, it } from '@jest/globals';
import { applyThemeChanges, LOGO_DATA_URI_LIMIT } from './theme.js';

const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('community page themes (issue 15)', () => {
  it('keep hex colours (lower case, #abc widened), https and data:image logos, https and mailto support links', () => {
    const theme = applyThemeChanges(undefined, {
      displayName: ' Wiki CoI ',
      primaryColour: '#ABC',
      backgroundColour: '#F0F0F0',
      logoUrl: 'https://cdn.example.org/brand/logo.svg',
      supportUrl: 'mailto:help@example.org',
    });
    expect(theme).toEqual({
      displayName: 'Wiki CoI',
      primaryColour: '#aabbcc',
      backgroundColour: '#f0f0f0',
      logoUrl: 'https://cdn.example.org/brand/logo.svg',
      supportUrl: 'mailto:help@example.org',
    });
    expect(applyThemeChanges(theme, { logoUrl: PNG, supportUrl: 'https://help.example.org/sso?x=1' })).toMatchObject({
      logoUrl: PNG,
      supportUrl: 'https://help.example.org/sso?x=1',
      primaryColour: '#aabbcc',
    });
  });

  it('remove a field given as null or blank, and keep the fields not given', () => {
    const theme = applyThemeChanges(undefined, { primaryColour: '#112233', displayName: 'X' });
    expect(applyThemeChanges(theme, { primaryColour: null, displayName: ' ' })).toEqual({
      displayName: null,
      primaryColour: null,
      backgroundColour: null,
      logoUrl: null,
      supportUrl: null,
    });
    expect(applyThemeChanges(theme, { backgroundColour: '#000000' }).primaryColour).toBe('#112233');
  });

  it.each([
    ['primaryColour', 'red;}body{'],
    ['primaryColour', 'red'],
    ['backgroundColour', '#12345g'],
    ['backgroundColour', 'url(https://x)'],
    ['logoUrl', 'javascript:alert(1)'],
    ['logoUrl', 'http://cdn.example.org/logo.png'],
    ['logoUrl', 'https://cdn.example.org/'],
    ['logoUrl', 'https://cdn.example.org/logo.png?v=1'],
    ['logoUrl', "https://cdn.example.org/a;script-src 'unsafe-inline'"],
    ['logoUrl', 'https://user:pw@cdn.example.org/logo.png'],
    ['logoUrl', 'data:text/html;base64,PHNjcmlwdD4='],
    ['logoUrl', 'data:image/png,not-base64'],
    ['logoUrl', `data:image/png;base64,${'A'.repeat(LOGO_DATA_URI_LIMIT)}`],
    ['supportUrl', 'javascript:alert(1)'],
    ['supportUrl', 'http://help.example.org'],
    ['displayName', 'x'.repeat(101)],
    ['displayName', 'a\u0000b'],
  ])('refuse %s %s with INVALID_INPUT naming the field', (field, value) => {
    expect(() => applyThemeChanges(undefined, { [field]: value })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field }));
  });
});
