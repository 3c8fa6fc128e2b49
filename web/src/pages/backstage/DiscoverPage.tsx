// SCAFFOLD: replaced by the apps front-end work.
export default function DiscoverPage() {
  return (
    <h1>
      DiscoverPage 
    </h1>
  );
}
