from django.urls import path

from . import views

urlpatterns = [
    path("headers/", views.headers),
    path("whoami/", views.whoami),
    path("upload/", views.upload),
    path("download/", views.download),
    path("stream/", views.stream),
    path("redirect/", views.redirect),
    path("status/<int:code>/", views.status),
    path("slow/", views.slow),
    path("health/", views.health),
    # Stand-ins for the admin and the login view of a real site (the protected example
    # configuration guards these paths): they report what the proxy sent.
    path("admin/", views.headers),
    path("accounts/login/", views.headers),
]
