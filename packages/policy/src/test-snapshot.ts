import type { AclRule, PolicySnapshot, PolicySnapshotInput } from "./snapshot";
import { sealSnapshot } from "./snapshot";

/** Test support: a sealed snapshot from a few overrides. Not exported from the package. */
export function testSnapshot(
  overrides: Partial<Omit<PolicySnapshotInput, "hash" | "rules">> & {
    rules?: (Partial<AclRule> & Pick<AclRule, "id" | "owner">)[];
  } = {},
): PolicySnapshot {
  const { rules = [], ...rest } = overrides;
  const result = sealSnapshot({
    version: 1,
    epoch: "test",
    createdAt: "2025-01-01T00:00:00Z",
    auth: { methods: ["none", "userpass"] },
    acl: { enabled: true, defaultPolicy: "block" },
    users: [],
    groups: [],
    qos: { enabled: false },
    ...rest,
    rules: rules.map((rule) => ({
      action: "allow",
      destinations: ["*"],
      ports: ["*"],
      ...rule,
    })),
  });
  if (!result.ok) throw new Error(result.error);
  return result.snapshot;
}
