import type { CatalogModel } from '../../api/types';

// Ready-to-copy request samples for the model page: Converse (text models) or InvokeModel
// with a Titan image body (image models), pointed at this server.

export interface SampleInput {
  model: CatalogModel;
  endpoint: string;
  region: string;
  prompt: string;
}

/** Single-quotes a shell word unless it is plainly safe. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

const js = (s: string) => JSON.stringify(s);

export function isImageModel(m: CatalogModel): boolean {
  return m.outputModalities.includes('IMAGE');
}

export function cliSample({ model, endpoint, region, prompt }: SampleInput): string {
  if (isImageModel(model)) {
    const body = JSON.stringify({
      taskType: 'TEXT_IMAGE',
      textToImageParams: { text: prompt },
      imageGenerationConfig: { numberOfImages: 1, width: 512, height: 512 },
    });
    return [
      'aws bedrock-runtime invoke-model \\',
      `  --endpoint-url ${shQuote(endpoint)} \\`,
      `  --region ${shQuote(region)} \\`,
      `  --model-id ${shQuote(model.modelId)} \\`,
      '  --content-type application/json \\',
      '  --cli-binary-format raw-in-base64-out \\',
      `  --body ${shQuote(body)} \\`,
      '  response.json',
    ].join('\n');
  }
  const messages = JSON.stringify([{ role: 'user', content: [{ text: prompt }] }]);
  return [
    'aws bedrock-runtime converse \\',
    `  --endpoint-url ${shQuote(endpoint)} \\`,
    `  --region ${shQuote(region)} \\`,
    `  --model-id ${shQuote(model.modelId)} \\`,
    `  --messages ${shQuote(messages)} \\`,
    `  --inference-config '{"maxTokens": 256, "temperature": 0.7}'`,
  ].join('\n');
}

export function pythonSample({ model, endpoint, region, prompt }: SampleInput): string {
  const head = [
    'import boto3',
    '',
    'client = boto3.client(',
    '    "bedrock-runtime",',
    `    region_name=${js(region)},`,
    `    endpoint_url=${js(endpoint)},`,
    ')',
    '',
  ];
  if (isImageModel(model)) {
    return [
      'import base64',
      'import json',
      '',
      ...head,
      'response = client.invoke_model(',
      `    modelId=${js(model.modelId)},`,
      '    contentType="application/json",',
      '    body=json.dumps({',
      '        "taskType": "TEXT_IMAGE",',
      `        "textToImageParams": {"text": ${js(prompt)}},`,
      '        "imageGenerationConfig": {"numberOfImages": 1, "width": 512, "height": 512},',
      '    }),',
      ')',
      'result = json.loads(response["body"].read())',
      'with open("image.png", "wb") as f:',
      '    f.write(base64.b64decode(result["images"][0]))',
    ].join('\n');
  }
  return [
    ...head,
    'response = client.converse(',
    `    modelId=${js(model.modelId)},`,
    `    messages=[{"role": "user", "content": [{"text": ${js(prompt)}}]}],`,
    '    inferenceConfig={"maxTokens": 256, "temperature": 0.7},',
    ')',
    'print(response["output"]["message"]["content"][0]["text"])',
    'print(response["usage"])',
  ].join('\n');
}

export function jsSample({ model, endpoint, region, prompt }: SampleInput): string {
  const client = [
    'const client = new BedrockRuntimeClient({',
    `  region: ${js(region)},`,
    `  endpoint: ${js(endpoint)},`,
    '});',
    '',
  ];
  if (isImageModel(model)) {
    return [
      'import { BedrockRuntimeClient, InvokeModelCommand } from "@aws-sdk/client-bedrock-runtime";',
      'import { writeFileSync } from "node:fs";',
      '',
      ...client,
      'const response = await client.send(',
      '  new InvokeModelCommand({',
      `    modelId: ${js(model.modelId)},`,
      '    contentType: "application/json",',
      '    body: JSON.stringify({',
      '      taskType: "TEXT_IMAGE",',
      `      textToImageParams: { text: ${js(prompt)} },`,
      '      imageGenerationConfig: { numberOfImages: 1, width: 512, height: 512 },',
      '    }),',
      '  }),',
      ');',
      'const result = JSON.parse(new TextDecoder().decode(response.body));',
      'writeFileSync("image.png", Buffer.from(result.images[0], "base64"));',
    ].join('\n');
  }
  return [
    'import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";',
    '',
    ...client,
    'const response = await client.send(',
    '  new ConverseCommand({',
    `    modelId: ${js(model.modelId)},`,
    `    messages: [{ role: "user", content: [{ text: ${js(prompt)} }] }],`,
    '    inferenceConfig: { maxTokens: 256, temperature: 0.7 },',
    '  }),',
    ');',
    'console.log(response.output.message.content[0].text);',
    'console.log(response.usage);',
  ].join('\n');
}
