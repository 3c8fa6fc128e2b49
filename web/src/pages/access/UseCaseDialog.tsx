import { useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/client';
import { Alert, Button, Dialog, Select, TextArea, TextField } from '../../components';
import { useLang, useT } from '../../i18n';
import { EMPTY_USE_CASE, formBytes, putUseCase, type UseCaseForm } from './access';
import { INDUSTRIES, accessStrings } from './strings';
import './access.css';

type Errors = Partial<Record<keyof UseCaseForm, string>>;

/** The Anthropic use-case form (Bedrock's PutUseCaseForModelAccess). */
export function UseCaseDialog({
  open,
  initial,
  submitLabel,
  onClose,
  onSaved,
}: {
  open: boolean;
  initial: UseCaseForm | null;
  submitLabel: string;
  onClose: () => void;
  onSaved: (form: UseCaseForm) => void;
}) {
  const t = useT(accessStrings);
  const { lang } = useLang();
  const [form, setForm] = useState<UseCaseForm>(initial ?? EMPTY_USE_CASE);
  const [errors, setErrors] = useState<Errors>({});
  const [apiError, setApiError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const firstRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (open) {
      setForm(initial ?? EMPTY_USE_CASE);
      setErrors({});
      setApiError(null);
      requestAnimationFrame(() => firstRef.current?.focus());
    }
  }, [open, initial]);

  const set = <K extends keyof UseCaseForm>(k: K, v: UseCaseForm[K]) => setForm((f) => ({ ...f, [k]: v }));

  const validate = (): Errors => {
    const e: Errors = {};
    if (!form.companyName.trim()) e.companyName = t('required', { field: t('companyName') });
    const site = form.companyWebsite.trim();
    if (!site) e.companyWebsite = t('required', { field: t('companyWebsite') });
    else if (!/^https?:\/\/[^\s/]+\.[^\s]+$/i.test(site)) e.companyWebsite = t('invalidWebsite');
    if (!form.intendedUsers) e.intendedUsers = t('chooseRequired', { field: t('intendedUsers') });
    if (!form.industryOption) e.industryOption = t('chooseRequired', { field: t('industry') });
    else if (form.industryOption === 'Other' && !form.otherIndustryOption.trim())
      e.otherIndustryOption = t('required', { field: t('otherIndustry') });
    if (!form.useCases.trim()) e.useCases = t('required', { field: t('useCases') });
    return e;
  };

  const submit = async () => {
    const e = validate();
    setErrors(e);
    const firstBad = Object.keys(e)[0];
    if (firstBad) {
      const el = document.querySelector<HTMLElement>(`[data-field="${firstBad}"]`);
      el?.focus();
      return;
    }
    const clean: UseCaseForm = {
      companyName: form.companyName.trim(),
      companyWebsite: form.companyWebsite.trim(),
      intendedUsers: form.intendedUsers,
      industryOption: form.industryOption,
      otherIndustryOption: form.industryOption === 'Other' ? form.otherIndustryOption.trim() : '',
      useCases: form.useCases.trim(),
    };
    if (formBytes(clean) > 16384) {
      setApiError(t('tooLong'));
      return;
    }
    setBusy(true);
    setApiError(null);
    try {
      await putUseCase(clean);
      onSaved(clean);
    } catch (err) {
      setApiError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const userChoices: { value: UseCaseForm['intendedUsers']; label: string }[] = [
    { value: '0', label: t('usersInternal') },
    { value: '1', label: t('usersExternal') },
    { value: '2', label: t('usersBoth') },
  ];

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={t('useCaseTitle')}
      size="lg"
      onSubmit={() => void submit()}
      footer={
        <>
          <Button onClick={onClose}>{t('cancel')}</Button>
          <Button type="submit" variant="primary" loading={busy}>
            {submitLabel}
          </Button>
        </>
      }
    >
      <p className="muted" style={{ margin: 0 }}>
        {t('useCaseIntro')}
      </p>
      {apiError && <Alert tone="error">{apiError}</Alert>}
      <div className="form-grid">
        <TextField
          ref={firstRef}
          data-field="companyName"
          label={t('companyName')}
          value={form.companyName}
          autoComplete="organization"
          maxLength={200}
          error={errors.companyName}
          onChange={(e) => set('companyName', e.target.value)}
        />
        <TextField
          data-field="companyWebsite"
          label={t('companyWebsite')}
          hint={t('companyWebsiteHint')}
          type="url"
          inputMode="url"
          autoComplete="url"
          value={form.companyWebsite}
          maxLength={500}
          error={errors.companyWebsite}
          onChange={(e) => set('companyWebsite', e.target.value)}
        />
      </div>
      <fieldset className={`fieldset ${errors.intendedUsers ? 'field-invalid' : ''}`} aria-describedby={errors.intendedUsers ? 'uc-users-error' : undefined}>
        <legend className="field-label">{t('intendedUsers')}</legend>
        <div className="radio-row">
          {userChoices.map((c, i) => (
            <label key={c.value} className="radio">
              <input
                type="radio"
                name="intendedUsers"
                value={c.value}
                data-field={i === 0 ? 'intendedUsers' : undefined}
                checked={form.intendedUsers === c.value}
                onChange={() => set('intendedUsers', c.value)}
              />
              {c.label}
            </label>
          ))}
        </div>
        {errors.intendedUsers && (
          <div id="uc-users-error" className="field-error">
            {errors.intendedUsers}
          </div>
        )}
      </fieldset>
      <div className="form-grid">
        <Select
          data-field="industryOption"
          label={t('industry')}
          placeholder={t('industryChoose')}
          value={form.industryOption}
          options={INDUSTRIES.map((i) => ({ value: i.value, label: lang === 'ko' ? i.ko : i.en }))}
          error={errors.industryOption}
          onChange={(e) => set('industryOption', e.target.value)}
        />
        {form.industryOption === 'Other' && (
          <TextField
            data-field="otherIndustryOption"
            label={t('otherIndustry')}
            value={form.otherIndustryOption}
            maxLength={200}
            error={errors.otherIndustryOption}
            onChange={(e) => set('otherIndustryOption', e.target.value)}
          />
        )}
      </div>
      <TextArea
        data-field="useCases"
        label={t('useCases')}
        hint={t('useCasesHint')}
        rows={5}
        maxLength={8000}
        value={form.useCases}
        error={errors.useCases}
        onChange={(e) => set('useCases', e.target.value)}
      />
    </Dialog>
  );
}
