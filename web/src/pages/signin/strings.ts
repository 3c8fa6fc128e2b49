const en = {
  title: 'Sign in',
  heading: 'Sign in to the Basalt console',
  intro: 'Use the console password your administrator gave you.',
  account: 'Account',
  accountHint: 'Account ID (12 digits) or account name',
  userName: 'User name',
  password: 'Password',
  submit: 'Sign in',
  signingIn: 'Signing in…',
  required: 'Enter {field}.',
  failedTitle: 'Sign-in failed',
  throttledRetry: 'Try again in {seconds} seconds.',
  throttledNow: 'You can try again now.',
  firstTime:
    'First start: the administrator’s account, user name and password are in the file console-password in the server’s data folder.',
  footer: 'Basalt — a self-hosted, Bedrock-compatible model service',
  signedOut: 'You have signed out.',
} as const;

const ko: Record<keyof typeof en, string> = {
  title: '로그인',
  heading: 'Basalt 콘솔에 로그인',
  intro: '관리자에게 받은 콘솔 암호를 사용하세요.',
  account: '계정',
  accountHint: '계정 ID(12자리) 또는 계정 이름',
  userName: '사용자 이름',
  password: '암호',
  submit: '로그인',
  signingIn: '로그인 중…',
  required: '{field}을(를) 입력하세요.',
  failedTitle: '로그인하지 못했습니다',
  throttledRetry: '{seconds}초 후에 다시 시도하세요.',
  throttledNow: '이제 다시 시도할 수 있습니다.',
  firstTime:
    '처음 시작할 때: 관리자의 계정, 사용자 이름, 암호는 서버 데이터 폴더의 console-password 파일에 있습니다.',
  footer: 'Basalt — 직접 호스팅하는 Bedrock 호환 모델 서비스',
  signedOut: '로그아웃했습니다.',
};

export const signinStrings = { en, ko };
