// bench: the Locust web UI's header in agent terms (bench/load/webui_header.py).
// Locust's header shows one "RPS" summed over every request type and "Failures" over all of
// them. bench's /stats/requests answer carries `bench_header`: the agent rates (LLM calls/s,
// turns/s, sessions/s) and the share of failed requests to the server. This script reads it
// from the answers the page already polls and writes it under its own labels.
(function () {
  "use strict";
  var header = null;
  var realFetch = window.fetch;
  window.fetch = function () {
    var args = arguments;
    return realFetch.apply(this, args).then(function (response) {
      var target = args[0];
      var url = typeof target === "string" ? target : (target && target.url) || "";
      if (url.indexOf("stats/requests") !== -1 && url.indexOf("csv") === -1) {
        response.clone().json().then(function (body) {
          if (body && body.bench_header) {
            header = body.bench_header;
            relabel();
          }
        }).catch(function () {});
      }
      return response;
    });
  };

  function labelled(text) {
    // the bold label of one header block: Locust's own text, or ours once relabelled
    var nodes = document.querySelectorAll("[data-bench-label='" + text + "']");
    if (nodes.length) return nodes[0];
    var all = document.querySelectorAll("p, span, h6");
    for (var i = 0; i < all.length; i++) {
      if (all[i].children.length === 0 && all[i].textContent === text) {
        all[i].setAttribute("data-bench-label", text);
        return all[i];
      }
    }
    return null;
  }

  function put(node, text) {
    if (!node) return;
    if (node.textContent !== text) node.textContent = text;
    if (node.style.whiteSpace !== "nowrap") node.style.whiteSpace = "nowrap";
  }

  function relabel() {
    if (!header) return;
    var rates = labelled("RPS");
    if (rates) {
      put(rates, header.rates.map(function (r) { return r.label; }).join(" · "));
      put(rates.nextElementSibling,
          header.rates.map(function (r) { return r.value.toFixed(2); }).join(" · "));
    }
    var failures = labelled("Failures");
    if (failures) {
      put(failures, header.failures_label);
      put(failures.nextElementSibling, (100 * header.fail_ratio).toFixed(1) + "%");
    }
  }

  // React writes its own numbers back on every poll: write ours again after it
  new MutationObserver(relabel).observe(document.documentElement,
                                        {childList: true, subtree: true, characterData: true});
})();
