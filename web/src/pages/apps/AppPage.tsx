// SCAFFOLD: replaced by the apps front-end work.
export default function AppPage({ appId, shareToken }: { appId?: string; shareToken?: string }) {
  return (
    <h1>
      AppPage {appId ?? shareToken}
    </h1>
  );
}
