import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

type Json = Record<string, any>;

/**
 * An answer checked against the OpenAPI document by a JSON Schema validator (ajv, draft 2020-12):
 * its status must be one the operation lists (or a class such as 4XX, or default), its content
 * type one that status lists, its body valid against that schema. Returns what does not fit.
 */
export class DocumentCheck {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly doc: Json) {}

  /** The operation of a path template (as the document writes it) and method. */
  operation(template: string, method: string): Json {
    const op = this.doc.paths?.[template]?.[method.toLowerCase()];
    if (!op) throw new Error(`the document has no ${method} ${template}`);
    return op;
  }

  async mismatch(template: string, method: string, res: Response): Promise<string | null> {
    const op = this.operation(template, method);
    const status = String(res.status);
    let spec: Json | undefined = op.responses[status] ?? op.responses[`${status[0]}XX`] ?? op.responses.default;
    if (!spec) return `${method} ${template}: status ${status} is not in the document (${Object.keys(op.responses).join(', ')})`;
    if (spec.$ref) spec = this.resolve(spec.$ref as string);
    const text = await res.text();
    if (!spec.content) return text === '' ? null : `${method} ${template} ${status}: a body where the document has none`;
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const media = spec.content[type];
    if (!media) return `${method} ${template} ${status}: content type ${type} is not one of ${Object.keys(spec.content).join(', ')}`;
    if (!media.schema || !type.includes('json')) return null;
    const validate = this.validator(media.schema as Json);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `${method} ${template} ${status}: not JSON: ${text.slice(0, 200)}`;
    }
    return validate(body) ? null : `${method} ${template} ${status}: ${this.ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`;
  }

  private resolve(ref: string): Json {
    return ref.replace(/^#\//, '').split('/').reduce<Json>((at, key) => at[key], this.doc);
  }

  private validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let v = this.compiled.get(key);
    if (!v) {
      // The schema with the document's components beside it, so its #/components/… references resolve.
      v = this.ajv.compile({ ...schema, components: this.doc.components });
      this.compiled.set(key, v);
    }
    return v;
  }
}
