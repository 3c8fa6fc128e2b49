import {
  forwardRef,
  useId,
  type InputHTMLAttributes,
  type ReactNode,
  type TextareaHTMLAttributes,
} from 'react';

interface FieldFrameProps {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  error?: ReactNode;
  required?: boolean;
  hideLabel?: boolean;
  children: ReactNode;
  className?: string;
}

/** Label, control, hint and error, wired with aria-describedby by the callers below. */
export function FieldFrame({ id, label, hint, error, hideLabel, children, className }: FieldFrameProps) {
  return (
    <div className={`field ${error ? 'field-invalid' : ''} ${className ?? ''}`}>
      <label htmlFor={id} className={hideLabel ? 'visually-hidden' : 'field-label'}>
        {label}
      </label>
      {hint && (
        <div id={`${id}-hint`} className="field-hint">
          {hint}
        </div>
      )}
      {children}
      {error && (
        <div id={`${id}-error`} className="field-error">
          {error}
        </div>
      )}
    </div>
  );
}

export function describedBy(id: string, hint?: ReactNode, error?: ReactNode): string | undefined {
  const ids = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

/** What every labelled control takes besides its element's own attributes. */
export interface FieldProps {
  label: ReactNode;
  hint?: ReactNode;
  error?: ReactNode;
  hideLabel?: boolean;
  id?: string;
  fieldClassName?: string;
}

/** Splits a control's props into its FieldFrame's and its element's, and wires the element
 *  to the frame (id, aria-invalid, aria-describedby). */
export function useField<P extends FieldProps>({ label, hint, error, hideLabel, id, fieldClassName, ...rest }: P) {
  const auto = useId();
  const fid = id ?? auto;
  return {
    frame: { id: fid, label, hint, error, hideLabel, className: fieldClassName },
    control: { id: fid, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy(fid, hint, error), ...rest },
  };
}

export interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'id'>, FieldProps {}

export const TextField = forwardRef<HTMLInputElement, TextFieldProps>(function TextField({ className, ...props }, ref) {
  const { frame, control } = useField(props);
  return (
    <FieldFrame {...frame}>
      <input ref={ref} className={`input ${className ?? ''}`} {...control} />
    </FieldFrame>
  );
});

export interface TextAreaProps extends Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, 'id'>, FieldProps {}

export const TextArea = forwardRef<HTMLTextAreaElement, TextAreaProps>(function TextArea({ className, ...props }, ref) {
  const { frame, control } = useField(props);
  return (
    <FieldFrame {...frame}>
      <textarea ref={ref} className={`input textarea ${className ?? ''}`} {...control} />
    </FieldFrame>
  );
});

/** A search box labelled for screen readers only, as above the catalog, access and user tables. */
export function SearchField({
  label,
  placeholder,
  value,
  onChange,
  className,
}: {
  label: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
  className: string;
}) {
  return (
    <TextField
      label={label}
      hideLabel
      type="search"
      placeholder={placeholder}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      fieldClassName={className}
    />
  );
}
