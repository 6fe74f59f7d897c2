// Starts Swagger UI on /api/docs. A file, not an inline script, so the page keeps script-src 'self'.
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // the default would send our API document to validator.swagger.io
  });
});
