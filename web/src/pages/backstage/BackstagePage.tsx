// SCAFFOLD: replaced by the apps front-end work.
export default function BackstagePage() {
  return (
    <h1>
      BackstagePage 
    </h1>
  );
}
