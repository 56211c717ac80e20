;;; Driven by tests/editors/test_editors.py: Emacs 28 in batch mode with the README's snippet, eglot
;;; and a real `sokuji serve' whose server segfaults at the model's 2nd decode step
;;; (SOKUJI_FAULTS="crash:decode@2"), in the first completion. The supervisor answers that request,
;;; tells the user, restarts the server and replays the editor's state: eglot must go on with
;;; the same connection, as if nothing had happened but the message. Writes $SOKUJI_RESULT.
(load (expand-file-name "emacs_helpers.el" (file-name-directory load-file-name)) nil t)

(defvar sokuji-test--shown nil "The window/showMessage texts eglot handled, newest first.")
(defvar sokuji-test--shutdowns 0 "How often eglot saw a server die (it then says \"exited\").")

(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (eq method 'window/showMessage)
                (push (plist-get params :message) sokuji-test--shown))))
(advice-add 'eglot--on-shutdown :before (lambda (&rest _) (setq sokuji-test--shutdowns (1+ sokuji-test--shutdowns))))

(defun sokuji-test--open (file)
  (find-file (expand-file-name file (getenv "SOKUJI_WORKSPACE")))
  (python-mode)
  ;; batch mode runs no post-command-hook, so `eglot-ensure' never fires: start it directly
  (unless (eglot-current-server)
    (apply #'eglot (eglot--guess-contact)))
  (sokuji-test--wait #'eglot-managed-p 120 (format "eglot to manage %s" file)))

(defun sokuji-test--goto (line column)
  (goto-char (point-min)) (forward-line line) (move-to-column column))

(defun sokuji-test--complete ()
  "The completion items at point, asked as `eglot-completion-at-point' asks."
  (let ((resp (jsonrpc-request (eglot-current-server) :textDocument/completion (eglot--CompletionParams)
                               :deferred :textDocument/completion)))
    (append (if (vectorp resp) resp (plist-get resp :items)) nil)))

(defun sokuji-test--command (command &rest arguments)
  (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                   (list :command command :arguments (vconcat arguments))))

(condition-case err
    (progn
      ;; no ghost text: its request, sent after each edit, would be the one the server dies in
      (setq sokuji-ghost-text nil
            sokuji-initialization-options '(:timeBudgetMs 60000 :kvCachePersist :json-false :lineStartConfidence 0))
      (load (getenv "SOKUJI_SNIPPET"))  ; the README's snippet, as a user pastes it
      ;; a busy machine, a restarted server loading its model: more than jsonrpc's 10 s per
      ;; request (a defconst: set once jsonrpc.el is loaded)
      (setq jsonrpc-default-request-timeout 300)
      (require 'project)
      ;; project.el 0.8 knows only VCS projects; the test workspace is a transient one
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient (getenv "SOKUJI_WORKSPACE"))))
      (sokuji-test--open "fib.py")
      (let ((server (eglot-current-server))
            (uri (eglot--path-to-uri buffer-file-name)))
        ;; an edit, then the completion the server dies in
        (goto-char (point-min))
        (insert "# edited before the crash\n")
        (sokuji-test--goto 4 4)
        (sokuji-test--put :in_flight (vconcat (sokuji-test--complete)))
        (sokuji-test--wait (lambda () sokuji-test--shown) 30 "the crash message")
        ;; after it: another edit, the text the new server sees, a completion from its model
        (sokuji-test--goto 1 0)
        (insert "# and after it\n")
        (sokuji-test--goto 5 4)
        (eglot--signal-textDocument/didChange)
        (sokuji-test--put :prompt (plist-get (sokuji-test--command "sokuji.context" uri 5 4) :prompt))
        (let ((before (buffer-string)))
          (completion-at-point)
          (sokuji-test--put :after_completion (buffer-substring-no-properties (point-min) (point-max)))
          (sokuji-test--put :completed (not (equal before (buffer-string)))))
        (sokuji-test--put :crashes (plist-get (sokuji-test--command "sokuji.stats") :crashes))
        ;; the same connection all along, still running
        (sokuji-test--put :same_server (if (eq server (eglot-current-server)) t :json-false))
        (sokuji-test--put :running (if (jsonrpc-running-p server) t :json-false))
        (sokuji-test--put :shutdowns sokuji-test--shutdowns)
        (sokuji-test--put :shown (vconcat (reverse sokuji-test--shown))))
      (sokuji-test--finish t))
  (error (sokuji-test--put :shown (vconcat (reverse sokuji-test--shown)))
         (sokuji-test--finish nil (format "%S" err))))
