/** Colour, or none: with NO_COLOR set the dashboard writes no colour or other text attribute at all (the selection shows as "> " either way). */
export interface Theme {
  color: boolean;
}

/** NO_COLOR (any non-empty value, https://no-color.org) turns colour off. */
export function themeFromEnv(env: NodeJS.ProcessEnv): Theme {
  return { color: !env.NO_COLOR };
}
