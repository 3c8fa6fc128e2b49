// SCAFFOLD: replaced by the apps front-end work.
export default function AppsPage() {
  return (
    <h1>
      AppsPage 
    </h1>
  );
}
