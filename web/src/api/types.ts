// Shapes of the console API's answers (docs/console.md).

export interface SessionUser {
  UserName: string;
  UserId: string;
  AccountId: string;
  AccountName: string;
  Arn: string;
}

export interface Capabilities {
  invoke: boolean;
  listModels: boolean;
  manageAccess: boolean;
  approveAccess: boolean;
  viewUsage: boolean;
  viewAccountUsage: boolean;
  manageOwnKeys: boolean;
  manageUsers: boolean;
  manageModels: boolean;
}

export interface Session {
  user: SessionUser;
  csrfToken: string;
  expiresAt: string;
  region: string;
  endpoint: string;
  operator: boolean;
  can: Capabilities;
}

export type AccessStatus = 'AVAILABLE' | 'IN_PROGRESS' | 'GRANTED' | 'DENIED' | 'NOT_AVAILABLE';

export interface CatalogModel {
  modelId: string;
  modelArn: string;
  modelName: string;
  providerName: string;
  inputModalities: string[];
  outputModalities: string[];
  contextLength: number | null;
  responseStreamingSupported: boolean;
  price: { inputPer1kTokens: number | null; outputPer1kTokens: number | null; perImage: number | null } | null;
  regions: string[];
  served: boolean;
  access: AccessStatus;
  useCaseRequired: boolean;
  agreementRequired: boolean;
}

export interface Catalog {
  models: CatalogModel[];
}
