import type { QosDraft, QosErrors } from "../lib/principal-form";
import { Field, Input } from "./field";

/** Bandwidth override inputs; empty inherits from the group or the fleet. */
export function QosFields({
  value,
  errors,
  onChange,
}: {
  value: QosDraft;
  errors: QosErrors;
  onChange: (value: QosDraft) => void;
}) {
  const fields: { key: keyof QosDraft; label: string; hint: string }[] = [
    { key: "guaranteed", label: "Guaranteed rate", hint: "bytes/s, e.g. 128k" },
    { key: "max", label: "Max rate", hint: "bytes/s, e.g. 10M" },
    { key: "burst", label: "Burst", hint: "bytes, e.g. 1M" },
  ];
  return (
    <fieldset>
      <legend className="field-label" style={{ marginBottom: 6 }}>
        Bandwidth (always applies; empty inherits the group's, then the fleet default while
        Bandwidth shaping is on)
      </legend>
      <div className="form-row">
        {fields.map((f) => (
          <Field key={f.key} label={f.label} hint={f.hint} error={errors[f.key]}>
            {(c) => (
              <Input
                {...c}
                name={`qos-${f.key}`}
                value={value[f.key]}
                placeholder="inherit"
                onChange={(e) => onChange({ ...value, [f.key]: e.target.value })}
              />
            )}
          </Field>
        ))}
      </div>
    </fieldset>
  );
}
