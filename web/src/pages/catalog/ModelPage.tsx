import { PageHeader } from '../../components';

export default function ModelPage({ id }: { id: string }) {
  return <PageHeader title={id} />;
}
