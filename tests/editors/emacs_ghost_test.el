;;; Driven by tests/editors/test_editors.py: Emacs 28 in batch mode with the README's snippet, eglot, a
;;; real `sokuji serve' (SOKUJI_FAULTS="hold:token@1": the first request stays in flight until
;;; cancelled) and the embedded model. Keys are pressed with `execute-kbd-macro', so the command
;;; loop's hooks run as for a user. Writes what happened to $SOKUJI_RESULT.
(load (expand-file-name "emacs_helpers.el" (file-name-directory load-file-name)) nil t)

(defun sokuji-test--open (file)
  (find-file (expand-file-name file (getenv "SOKUJI_WORKSPACE")))
  (python-mode)
  (unless (eglot-current-server)
    (apply #'eglot (eglot--guess-contact)))
  (sokuji-test--wait (lambda () (and (eglot-managed-p) sokuji-mode)) 120 (format "eglot and sokuji-mode in %s" file)))

(defun sokuji-test--ghost ()
  "The ghost text as drawn: the after-string of sokuji's overlay at point."
  (let ((ovs (cl-remove-if-not (lambda (o) (overlay-get o 'sokuji)) (overlays-in (point-min) (point-max)))))
    (and ovs (overlay-get (car ovs) 'after-string)
         (list (substring-no-properties (overlay-get (car ovs) 'after-string))
               (overlay-start (car ovs)) (length ovs)))))

(defun sokuji-test--logged (text)
  (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
    (save-excursion (goto-char (point-min)) (search-forward text nil t))))

(defun sokuji-test--line ()
  (buffer-substring-no-properties (line-beginning-position) (line-end-position)))

(defun sokuji-test--keys (keys) (execute-kbd-macro (kbd keys)))

(defun sokuji-test--acceptance ()
  "sokuji.stats' acceptance counts, eglot's pending changes sent first."
  (eglot--signal-textDocument/didChange)
  (plist-get (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                              '(:command "sokuji.stats" :arguments []) :timeout 60)
             :acceptance))

(defun sokuji-test--signal (message)
  "MESSAGE (what `jsonrpc-connection-send' was given) as (KIND ID [LENGTH]) when it tells
sokuji that a suggestion was shown or taken, else nil."
  (let* ((method (replace-regexp-in-string "\\`:" "" (format "%s" (plist-get message :method))))
         (params (plist-get message :params))
         (id (lambda (item) (aref (plist-get (plist-get item :command) :arguments) 0))))
    (pcase method
      ("textDocument/didShowCompletion" (list "shown" (funcall id (plist-get params :item))))
      ("textDocument/didPartiallyAcceptCompletion"
       (list "partly" (funcall id (plist-get params :item)) (plist-get params :acceptedLength)))
      ("workspace/executeCommand"
       (and (equal (plist-get params :command) "sokuji.accepted")
            (list "accepted" (aref (plist-get params :arguments) 0)))))))

(condition-case err
    (progn
      ;; a generous time budget: what the model writes must not depend on how busy the machine is
      (setq sokuji-initialization-options '(:timeBudgetMs 60000 :kvCachePersist :json-false :lineStartConfidence 0))
      (load (getenv "SOKUJI_SNIPPET"))  ; the README's snippet, as a user pastes it
      (require 'project)
      (add-hook 'project-find-functions (lambda (_dir) (cons 'transient (getenv "SOKUJI_WORKSPACE"))))

      ;; 1. typing asks; the request is held in the server: keys still land, and the next
      ;;    keystroke cancels it ($/cancelRequest: the server's decode stops)
      (sokuji-test--open "hold.py")
      (sokuji-test--put :status_loading (sokuji-status))
      (goto-char (point-min)) (forward-line 2) (end-of-line)
      (sokuji-test--keys "x")
      (sokuji-test--wait (lambda () (sokuji-test--logged "holding at 'token'")) 180 "the request to be held")
      (sokuji-test--keys "SPC = SPC 1")
      (sokuji-test--put :typed_while_held (sokuji-test--line))
      (sokuji-test--wait (lambda () (sokuji-test--logged "stop=cancelled")) 60 "the cancel")
      (sokuji-test--put :cancelled sokuji-cancelled)
      (sokuji-test--wait (lambda () (null sokuji--request)) 120 "the last request's answer")
      (sokuji-dismiss)

      ;; 2. ghost text after point; accept a word, a line, the rest
      (sokuji-test--open "point.py")
      (goto-char (point-min)) (forward-line 2) (end-of-line)
      (sokuji-test--keys "self.")
      (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text")
      (let* ((ghost (sokuji-test--ghost)) (before (sokuji-test--line)))
        (sokuji-test--put :ghost (car ghost))
        (sokuji-test--put :ghost_at (list (- (nth 1 ghost) (line-beginning-position)) (nth 2 ghost)))
        (sokuji-test--put :ghost_matches_item (equal (car ghost) (sokuji-current)))
        (sokuji-test--keys "M-<right>")
        (sokuji-test--put :after_word (sokuji-test--line))
        (sokuji-test--put :column_after_word (current-column))
        (sokuji-test--put :rest_after_word (car (sokuji-test--ghost)))
        (when (sokuji-test--ghost)
          (sokuji-test--keys "M-<down>")
          (sokuji-test--put :after_line (sokuji-test--line))
          (sokuji-test--put :rest_after_line (car (sokuji-test--ghost)))
          (when (sokuji-test--ghost) (sokuji-test--keys "M-l")))
        (sokuji-test--put :after_all (buffer-substring-no-properties (save-excursion (goto-char (point-min)) (forward-line 2) (point)) (point-max)))
        (ignore before))

      ;; 3. cycling: M-] asks for several and shows the 2nd; M-[ back; C-g dismisses; M-l accepts all
      (sokuji-test--open "main.py")
      (goto-char (point-max)) (forward-line -1) (end-of-line)
      (sokuji-test--keys "m")
      (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text in main.py")
      (let ((first (car (sokuji-test--ghost))))
        (sokuji-test--put :first first)
        (sokuji-test--keys "M-]")
        (sokuji-test--wait (lambda () (and (sokuji-test--ghost) (not (equal (car (sokuji-test--ghost)) first)))) 300 "the 2nd suggestion")
        (sokuji-test--put :second (car (sokuji-test--ghost)))
        (sokuji-test--put :items (vconcat sokuji--items))
        (sokuji-test--keys "M-[")
        (sokuji-test--put :back (car (sokuji-test--ghost)))
        (let ((text (buffer-string)))
          (sokuji-test--keys "C-g")
          (sokuji-test--put :dismissed (null (sokuji-test--ghost)))
          (sokuji-test--put :unchanged_by_dismiss (equal text (buffer-string)))))
      (sokuji-test--keys "DEL m")
      (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text again")
      (sokuji-test--put :accepted_all (car (sokuji-test--ghost)))
      (sokuji-test--keys "M-l")
      (sokuji-test--put :last_line (sokuji-test--line))
      (sokuji-test--put :ghost_after_accept (sokuji-test--ghost))
      (sokuji-test--put :status (sokuji-status))
      ;; batch Emacs formats no mode line: the lighter's :eval form, evaluated as the mode line would
      (sokuji-test--put :mode_line (let ((lighter (cadr (assq 'sokuji-mode minor-mode-alist)))) (eval (cadr lighter) t)))

      ;; 4. what sokuji is told: a suggestion shown and taken whole, another shown and taken a
      ;;    word, then a request elsewhere (that one is settled: partly accepted); sokuji.stats'
      ;;    counts before and after, and the signals sent (read off `jsonrpc-connection-send')
      (sokuji-test--open "accept.py")
      (let ((sent nil))
        (advice-add 'jsonrpc-connection-send :before (lambda (_conn &rest message) (push message sent))
                    '((name . sokuji-test--sent)))
        (sokuji-test--put :acceptance_before (sokuji-test--acceptance))
        (goto-char (point-min)) (forward-line 2) (end-of-line)
        (sokuji-test--keys "self.")
        (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text in accept.py")
        (sokuji-test--put :taken_whole (car (sokuji-test--ghost)))
        (sokuji-test--keys "M-l")
        (goto-char (point-max)) (forward-line -1) (end-of-line)
        (sokuji-test--keys "r e t u r n SPC")
        (sokuji-test--wait #'sokuji-test--ghost 180 "ghost text after return")
        (let ((at (point)))
          (sokuji-test--keys "M-<right>")
          (sokuji-test--put :taken_word (buffer-substring-no-properties at (point))))
        (sokuji-test--keys "M-<")  ; moved away: the ghost goes
        (sokuji-request)           ; asked there (as after a keystroke)
        (sokuji-test--wait (lambda () (null sokuji--request)) 180 "the answer elsewhere")
        (sokuji-test--put :shown_elsewhere (if (sokuji-test--ghost) t :json-false))
        (sokuji-test--put :acceptance (sokuji-test--acceptance))
        (advice-remove 'jsonrpc-connection-send 'sokuji-test--sent)
        (sokuji-test--put :signals (vconcat (delq nil (mapcar #'sokuji-test--signal (reverse sent))))))
      (sokuji-test--finish t))
  (error (sokuji-test--finish nil (format "%S" err))))
