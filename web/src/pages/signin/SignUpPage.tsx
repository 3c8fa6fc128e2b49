// SCAFFOLD: replaced by the apps front-end work.
export default function SignUpPage() {
  return (
    <h1>
      SignUpPage 
    </h1>
  );
}
