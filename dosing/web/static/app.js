// The only script: a Print button where printing helps (the page works without it).
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("print");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
