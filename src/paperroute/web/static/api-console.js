// Starts Swagger UI (from the fastapi-offline wheel) on /docs/console; kept in a file because
// the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var holder = document.getElementById("swagger-ui");
  if (!holder || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: holder.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,  // the default validator is a remote service
    tryItOutEnabled: true
  });
});
