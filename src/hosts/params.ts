import { badRequest } from '../http/errors.js';
import { single, type Params } from '../http/params.js';

/**
 * Take `host=` out of a request's parameters (it is the API's, never barman's): the barman host
 * the request names, or undefined for the default one. Any spelling (`HOST`, `Host`) is the same
 * parameter, so no spelling reaches another host or slips through to barman.
 */
export function hostParam(params: Params): string | undefined {
  const names = Object.keys(params).filter((k) => k.toLowerCase() === 'host');
  if (names.length > 1) throw badRequest(`parameter host given more than once (${names.join(', ')}); expected one value`, { parameter: 'host' });
  const [name] = names;
  if (name === undefined) return undefined;
  const value = single(params, name);
  delete params[name];
  if (value === undefined || value === '') return undefined;
  return value;
}
