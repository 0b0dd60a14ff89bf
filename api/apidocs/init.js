// Starts Swagger UI on the /docs page (a file, so the page's CSP needs no inline script).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");

  // Swagger UI's copy buttons are empty (an icon from the stylesheet): give them a name.
  function nameCopyButtons() {
    var buttons = root.querySelectorAll(".copy-to-clipboard > button:not([aria-label])");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-label", "Copy to clipboard");
    }
  }
  new MutationObserver(nameCopyButtons).observe(root, {childList: true, subtree: true});

  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    // no deep links: Swagger UI puts them as links inside the operation buttons (nested controls)
    deepLinking: false,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
})();
