/* Course site behaviour on top of sphinx-book-theme (tools/site/conf.py loads it on every page). */

/* The header's search button: the theme focuses the sidebar's search field, which a phone keeps in the closed
   drawer (so the button did nothing); where that field is not on screen, open the theme's search dialog instead. */
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest(".search-button__button");
  const dialog = document.getElementById("pst-search-dialog");
  if (!button || !dialog) return;
  const field = document.querySelector(".bd-sidebar-primary form.bd-search input");
  const box = field && field.getBoundingClientRect();
  const onScreen = field && field.checkVisibility({ visibilityProperty: true }) && box.right > 0 && box.width > 0;
  if (onScreen) return;
  event.stopImmediatePropagation();
  event.preventDefault();
  if (!dialog.open) dialog.showModal();
}, true);

/* Search snippets from the article only: Sphinx takes the text of [role=main], which here also holds the page's
   header buttons ("Light Dark ..."), a print-only table of contents and the footer. */
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || !Search.htmlToText) return;
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const doc = new DOMParser().parseFromString(htmlString, "text/html");
    const article = doc.querySelector("article.bd-article");
    if (!article) return pageText(htmlString, anchor);
    doc.querySelectorAll("[role=main]").forEach((element) => element.removeAttribute("role"));
    article.setAttribute("role", "main");
    return pageText(doc.documentElement.outerHTML, anchor);
  };
});
