import type { ButtonHTMLAttributes, ReactNode } from "react";
import { READ_ONLY_TITLE, useCanWrite } from "./access";

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: "default" | "primary" | "danger" | "danger-solid" | "ghost";
  size?: "md" | "sm";
  /** A write control: disabled (with a tooltip saying why) for read-only tokens. */
  write?: boolean;
  busy?: boolean;
  children: ReactNode;
}

export function Button({
  variant = "default",
  size = "md",
  write = false,
  busy = false,
  className,
  disabled,
  title,
  type = "button",
  children,
  ...rest
}: ButtonProps) {
  const canWrite = useCanWrite();
  const readOnly = write && !canWrite;
  const classes = [
    "btn",
    variant === "primary" && "btn-primary",
    variant === "danger" && "btn-danger",
    variant === "danger-solid" && "btn-danger btn-solid",
    variant === "ghost" && "btn-ghost",
    size === "sm" && "btn-sm",
    className,
  ]
    .filter(Boolean)
    .join(" ");
  return (
    <button
      {...rest}
      type={type}
      className={classes}
      disabled={disabled || readOnly || busy}
      aria-busy={busy || undefined}
      title={readOnly ? READ_ONLY_TITLE : title}
    >
      {busy ? <span className="spinner" style={{ width: 14, height: 14, borderWidth: 2 }} /> : null}
      {children}
    </button>
  );
}

/** A group of mutually exclusive options (time windows, tabs of a small view). */
export function Segmented<T extends string>({
  label,
  value,
  options,
  onChange,
}: {
  label: string;
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (value: T) => void;
}) {
  return (
    // biome-ignore lint/a11y/useSemanticElements: a row of toggle buttons, not a fieldset of inputs
    <div className="segmented" role="group" aria-label={label}>
      {options.map((option) => (
        <button
          key={option.value}
          type="button"
          aria-pressed={option.value === value}
          onClick={() => onChange(option.value)}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}
