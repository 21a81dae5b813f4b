import { GROUP_SOURCES, ScopeName, SOCKS_METHODS } from "@edgesocks/policy/auth-scope";
import type { RouterInputs, RouterOutputs } from "./api-types";

export type AuthScopes = RouterOutputs["auth"]["scopes"];
export type SetScopeInput = RouterInputs["auth"]["setScope"];
export type ScopeKind = SetScopeInput["scope"];

export const METHOD_OPTIONS = SOCKS_METHODS.map((m) => ({ value: m, label: m }));
export const GROUP_SOURCE_OPTIONS = GROUP_SOURCES.map((g) => ({
  value: g,
  label: g === "nss" ? "nss (policy and the host's NSS)" : "policy",
}));

/** One listed scope: the fleet default, then each region's and each node's override by name. */
export interface ScopeRow {
  scope: ScopeKind;
  name: string | null;
  method: string;
  groupSource: string;
}

export function scopeRows(scopes: AuthScopes): ScopeRow[] {
  const rows: ScopeRow[] = [];
  if (scopes.default) rows.push({ scope: "fleet", name: null, ...scopes.default });
  for (const [name, a] of Object.entries(scopes.regions).sort(([x], [y]) => x.localeCompare(y)))
    rows.push({ scope: "region", name, ...a });
  for (const [name, a] of Object.entries(scopes.nodes).sort(([x], [y]) => x.localeCompare(y)))
    rows.push({ scope: "node", name, ...a });
  return rows;
}

/** The region or node name's problem as the API's own schema words it; null: fine. */
export function scopeNameError(scope: ScopeKind, text: string): string | null {
  if (scope === "fleet") return null;
  if (text.trim() === "") return `a ${scope} name is required`;
  const parsed = ScopeName.safeParse(text.trim());
  return parsed.success ? null : parsed.error.issues[0]!.message;
}

export type ScopeField = "name" | "method" | "groupSource" | "form";

/**
 * Which field an auth.setScope error belongs to: the API words its own errors `name: …`, and a
 * refused input (prettified zod) ends its issue with `→ at name`.
 */
export function scopeErrorField(message: string): { field: ScopeField; message: string } {
  const prefixed = /^(name|method|groupSource): (.*)$/s.exec(message);
  if (prefixed) return { field: prefixed[1] as ScopeField, message: prefixed[2]! };
  const zod = /^✖ (.*)\n\s*→ at (name|method|groupSource)\s*$/s.exec(message);
  if (zod) return { field: zod[2] as ScopeField, message: zod[1]! };
  return { field: "form", message };
}
