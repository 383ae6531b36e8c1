/** Files imported `with { type: 'file' }` into the single binary: each is its path inside it. */
declare module 'swagger-ui-dist/*' {
  const path: string;
  export default path;
}
