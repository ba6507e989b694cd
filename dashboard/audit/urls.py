from django.urls import path

from dashboard.audit import views

urlpatterns = [
    path("", views.index, name="audit"),
]
