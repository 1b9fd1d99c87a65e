// Swagger UI on the served document. validatorUrl: null — the default would load a badge from
// a third-party validator; this page makes no request to any host but this one.
window.ui = SwaggerUIBundle({
  url: '../openapi.json',
  dom_id: '#swagger-ui',
  validatorUrl: null,
  deepLinking: true,
  withCredentials: true,
  tryItOutEnabled: false,
});
