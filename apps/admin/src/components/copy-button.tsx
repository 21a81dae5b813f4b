import { useState } from "react";
import { Button } from "./button";

/** Copies `text` to the clipboard; says "Copied" for a moment. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <Button
      size="sm"
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        } catch {
          // Clipboard access refused (plain http on another host): the text stays selectable.
        }
      }}
    >
      {copied ? "Copied" : label}
    </Button>
  );
}

export function CopyBlock({ text, label }: { text: string; label: string }) {
  return (
    <div className="copy-row">
      <pre className="code" data-testid="copy-text">
        <span className="visually-hidden">{label}: </span>
        <code>{text}</code>
      </pre>
      <CopyButton text={text} />
    </div>
  );
}
