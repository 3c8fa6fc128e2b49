import { useEffect, useId, useState, type ReactNode } from 'react';

export interface SliderProps {
  label: ReactNode;
  value: number;
  onChange: (v: number) => void;
  min: number;
  max: number;
  step?: number;
  hint?: ReactNode;
  disabled?: boolean;
  id?: string;
}

/** A range slider paired with a number input; both labelled, both keyboard-operable. */
export function Slider({ label, value, onChange, min, max, step = 1, hint, disabled, id }: SliderProps) {
  const auto = useId();
  const fid = id ?? auto;
  const [text, setText] = useState(String(value));
  useEffect(() => setText(String(value)), [value]);
  const clamp = (v: number) => Math.min(max, Math.max(min, v));
  const commit = (raw: string) => {
    const n = Number(raw);
    if (raw.trim() === '' || Number.isNaN(n)) setText(String(value));
    else onChange(clamp(n));
  };
  return (
    <div className="field slider-field">
      <div className="slider-head">
        <label htmlFor={fid} className="field-label">
          {label}
        </label>
        <input
          type="number"
          className="input slider-number"
          aria-labelledby={`${fid}-label-n`}
          min={min}
          max={max}
          step={step}
          value={text}
          disabled={disabled}
          onChange={(e) => {
            setText(e.target.value);
            const n = Number(e.target.value);
            if (e.target.value.trim() !== '' && !Number.isNaN(n) && n >= min && n <= max) onChange(n);
          }}
          onBlur={(e) => commit(e.target.value)}
        />
        <span id={`${fid}-label-n`} className="visually-hidden">
          {label}
        </span>
      </div>
      {hint && (
        <div id={`${fid}-hint`} className="field-hint">
          {hint}
        </div>
      )}
      <input
        id={fid}
        type="range"
        className="slider-range"
        min={min}
        max={max}
        step={step}
        value={value}
        disabled={disabled}
        aria-describedby={hint ? `${fid}-hint` : undefined}
        onChange={(e) => onChange(Number(e.target.value))}
      />
    </div>
  );
}
